#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "support.h"

/* The server code reads these settings (main.c, which defines them, is not linked in). */
struct config cfg = {
	.public_url = "http://192.0.2.1:8080",
	.scripts_dir = "ipxe-scripts",
	.agent_token_ttl = 3600,
	.kernel_args = "console=tty0 console=ttyS0,115200n8",
};

char store_dir[] = "/tmp/anemos-unit-XXXXXX";

const char *shown(const char *s)
{
	static char buf[160];
	size_t o = 0;

	if (!s)
		return "NULL";
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && o < sizeof(buf) - 8; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int remove_tree_at(const char *dir)
{
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int store_open(void **state)
{
	(void)state;
	log_set_level(LOG_WARN);
	if (!mkdtemp(store_dir)) {
		perror("mkdtemp");
		return -1;
	}
	if (db_init(store_dir) < 0) {
		fprintf(stderr, "db_init(%s): %s\n", store_dir, err_msg());
		return -1;
	}
	return 0;
}

int store_close(void **state)
{
	(void)state;
	db_shutdown();
	return remove_tree_at(store_dir);
}
