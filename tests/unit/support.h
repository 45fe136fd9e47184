/* What the unit tests share: the settings the server code reads, a printable form of a
 * case's input for failure messages, and a real SQLite store in a temporary folder. */
#ifndef ANEMOS_UNIT_SUPPORT_H
#define ANEMOS_UNIT_SUPPORT_H

#include "anemosd.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The folder of the store store_open made (a fresh mkdtemp folder). */
extern char store_dir[];

/* s in quotes, bytes outside printable ASCII as \xNN, NULL as NULL; in a static buffer. */
const char *shown(const char *s);
/* cmocka group setup/teardown: a fresh store (db_init) in store_dir, and its removal. */
int store_open(void **state);
int store_close(void **state);
/* rm -r dir (no symlink followed): 0, or what nftw returned. */
int remove_tree_at(const char *dir);

#endif
