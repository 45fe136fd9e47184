/* anemos-mkimg: turns an image recipe into a root file system archive plus manifest.
 * This header lists every file's functions: it reads as a map of the program. */
#ifndef ANEMOS_MKIMG_H
#define ANEMOS_MKIMG_H

#include <stdbool.h>
#include <sys/types.h>

#include "crypto.h"

/* What a recipe says, read back from the shell that sourced it. Strings are owned by the
 * recipe and released by recipe_free. */
struct recipe {
	char *path;          /* absolute path of the recipe file */
	char *dir;           /* the folder holding it (its files/ tree lives there) */
	char *name;          /* image name: [A-Za-z0-9._-], not starting with '.' */
	char *base;          /* "busybox" or "debootstrap" */
	char *format;        /* "tar.zst" (default) */
	char *packages;      /* space-separated Debian packages, may be empty */
	bool has_provision;  /* the recipe defines a provision function */
};

/* The archive one build wrote. */
struct image_file {
	long long size;                    /* bytes of the compressed file */
	long long uncompressed;            /* bytes of file data in the tree (regular files) */
	char sha256[SHA256_HEX_LEN + 1];   /* of the compressed file */
};

/* recipe.c */
/* Sources the recipe in /bin/sh and reads its variables back; checks name, base and format.
 * NULL, with errno and the message (err_set) saying why the recipe cannot be built. */
struct recipe *recipe_load(const char *path);
void recipe_free(struct recipe *r);
/* Runs one build step: /bin/sh sources the recipe, then the base script, then runs body.
 * The environment (ROOT, CACHE, ...) is set by the caller. Logs the step's name (info);
 * 0, or -errno with the message (-EIO: the step failed). */
int recipe_run_step(const struct recipe *r, const char *step, const char *body);

/* tree.c */
/* Unmounts whatever a failed earlier build left mounted under dir (deepest first), then
 * removes dir and everything in it without crossing into other file systems. 0 or -errno. */
int tree_remove(const char *dir);
/* mkdir -p. 0 or -errno. */
int tree_mkdirs(const char *dir, mode_t mode);
/* True if path (relative to the image root, e.g. "boot/vmlinuz") names a regular file once
 * symlinks are followed inside root (absolute link targets resolve against root). */
bool tree_has_file(const char *root, const char *path);

/* archive.c */
/* Writes the tree under root as a pax tar compressed with zstd to out_path, streaming,
 * hashing and counting the bytes as they are written. Owners are kept as they are in the
 * tree, or all 0:0 with root_owner. 0, or -errno with the message (none for -ENOMEM inside
 * libarchive; out_path is then removed). */
int archive_write_tree(const char *root, const char *out_path, bool root_owner,
		       struct image_file *out);

/* manifest.c */
/* Writes the manifest JSON of an image to path (atomically: a temporary file renamed). 0, or
 * -errno with the message. */
int manifest_write(const char *path, const struct recipe *r, const struct image_file *img,
		   const char *kernel, const char *initrd);
/* Writes the file list of the tree under root (lib/filelist.h) to path, atomically.
 * 0, or -errno with the message (path is then untouched and no temporary file is left). */
int manifest_write_files(const char *path, const char *root);

#endif
