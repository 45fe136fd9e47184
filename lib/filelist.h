/* The list of a file tree, one line per path: what anemos-mkimg built from a recipe
 * (--manifest FILE) and what anemos-agent finds in a tree (--manifest DIR) are compared as
 * text, so both programs list through this one module. */
#ifndef ANEMOS_FILELIST_H
#define ANEMOS_FILELIST_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Writes the list of the tree under root to out, one line per path:
 *
 *   PATH TYPE MODE DATA
 *
 * PATH    relative to root, no leading "./"; root itself is not listed. Bytes <= 0x20, 0x7f
 *         and '\' are written as \xHH (lower-case hex), so a line has exactly four fields.
 * TYPE    f regular file, d directory, l symlink, c/b character/block device, p FIFO,
 *         s socket.
 * MODE    the permission bits (st_mode & 07777) as 4 octal digits.
 * DATA    f: SHA-256 of the content (64 hex digits); l: the link target, escaped as PATH;
 *         c/b: MAJOR,MINOR; otherwise "-".
 *
 * Lines are sorted bytewise (LC_ALL=C sort order of the lines, which is that of the escaped
 * paths). Folders on another file system than root are listed but not descended into.
 * Paths filelist_excluded names are left out with everything below them, and so is each
 * per-host template output: for a regular file etc/anemos/templates/P.template or
 * etc/anemos/templates/P.makeimg.template, the path P (P itself, not what is below it).
 * Symlinks are never followed, except root itself.
 *
 * Returns 0, or -errno (the first error met; -EIO when writing out failed). out is flushed
 * and may hold part of a list after a failure; it is not closed.
 */
int filelist_write(const char *root, FILE *out);

/* True if path (relative to the tree's root, e.g. "etc/hostname") is one that differs from
 * machine to machine, by the compiled-in table in filelist.c; it is then left out of the list
 * with everything below it. */
bool filelist_excluded(const char *path);

#endif
