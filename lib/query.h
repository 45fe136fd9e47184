/* The host search language, compiled to an SQL condition over `hosts h`.
 *
 *   tag:db rack=r12 memory>=64G cpu~EPYC status:ready -tag:retired firmware:uefi
 *   disk.count>=4 nic.speed>=25000 bmc:present (status:failed OR status:new) web7
 *
 * Terms next to each other must all hold (AND); `OR` between terms or groups is either;
 * `-TERM` or `NOT TERM` is the negation; parentheses group. A term is KEY OP VALUE with OP one
 * of `:` `=` (equal, any case), `!=`, `<` `<=` `>` `>=`, `~` (contains, any case), or a bare
 * word, which matches hosts whose name, serial, vendor, product, status, image, UUID, asset
 * tag, CPU model, firmware or a MAC contains it (what the list's search always did). VALUE is
 * a word or a "quoted string" (\" and \\ inside). Sizes are binary (64G = 64 GiB).
 *
 * KEYs, in the order they are looked up (docs/search.md has the table):
 *   the host's columns (hostname, status, next, image, serial, uuid, vendor, product, asset,
 *     firmware, cpu, cpu.sockets, cpu.threads, memory, disk.count, disk.total, mac);
 *   tag;  bmc (present / absent, from the inventory);
 *   nic.* disk.* dimm.*: true when one NIC, disk or DIMM of the inventory matches
 *     (nic.speed is the link speed in Mb/s, dimm.size and disk.size in bytes, any other name
 *     is that element's inventory field);
 *   system.* baseboard.* chassis.* bios.* cpu.* memory.*: that inventory fact by its path;
 *   any other key: the host's attribute of that name (numbers and sizes compared as numbers,
 *     other values as text, which orders ISO dates) with any operator but `:`: an unknown
 *     KEY:VALUE is a bare word, so that a piece of a MAC (bb:02) finds what it always did.
 */
#ifndef ANEMOS_QUERY_H
#define ANEMOS_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#define QUERY_MAX_LEN 2048   /* bytes of query text */
#define QUERY_MAX_TERMS 64
#define QUERY_MAX_DEPTH 8    /* nested parentheses and negations (SQLite's parser takes
			      * about 100 levels; each of ours is a few) */

enum query_param_type { QUERY_PARAM_TEXT, QUERY_PARAM_INT, QUERY_PARAM_REAL };

struct query_param {
	enum query_param_type type;
	char *text;       /* QUERY_PARAM_TEXT: owned by the query */
	long long number; /* QUERY_PARAM_INT */
	double real;      /* QUERY_PARAM_REAL */
};

/* A compiled query: `where` is an SQL condition over `hosts h` (and the tables host_macs,
 * host_tags, host_attrs, host_inventories by host_id) whose parameters are ?N for N = first + 1 ... first +
 * count, in params[0 .. count-1]. Everything is owned by the struct; query_free frees it. */
struct query {
	char *where;
	struct query_param *params;
	size_t count;
};

/* Where and why a query did not compile: pos is the byte offset (0-based) of the term or
 * character at fault, msg says what was expected there. */
struct query_error {
	size_t pos;
	char msg[200];
};

/* Compiles text (NULL or blank: every host, where = "1"). 0 on success with *out filled;
 * -EINVAL when the text does not parse or names a value that cannot be (an unknown status,
 * a size that is not one), with *err filled and *out left empty; -ENOMEM. */
int query_compile(const char *text, int first, struct query *out, struct query_error *err);
void query_free(struct query *q);

/* True when name is a search key of its own (a column, tag, mac, bmc, or any dotted path):
 * an attribute of that name could never be searched, so hosts' attributes may not take it. */
bool query_key_reserved(const char *name);

/* Saved searches: a word @NAME at the start of a term is the saved search NAME, in
 * parentheses (`@web -tag:retired`, `-@old`). NAME is 1-64 of a-z 0-9 and, after the first,
 * '.', '_', '-'. */
#define QUERY_SEARCH_NAME_MAX 64
bool query_search_name_valid(const char *name);

/* *out = text with each @NAME replaced by "(QUERY)", QUERY from lookup (0 with a malloc'd
 * *query, -ENOENT when there is none, or another negative error, returned as is). Quoted
 * values are copied whole; a saved query naming another is refused. 0, -EINVAL with *err
 * (a bad or unknown name, its position), -ENOMEM, or lookup's error; *out is freed by the
 * caller, NULL on error. */
int query_expand(const char *text, int (*lookup)(void *ctx, const char *name, char **query), void *ctx,
		 char **out, struct query_error *err);

/* -EINVAL with *err at the first @NAME of text that query_expand would take for a saved search
 * (for the searches that may not use one: a saved search, a rule), 0 when there is none,
 * or -ENOMEM. */
int query_saved_named(const char *text, struct query_error *err);

/* Parses a number with an optional binary size suffix (K M G T P, optionally followed by
 * "i" and/or "B": 64G, 64GiB, 1.5T) into *out; 0, or -EINVAL when s is not such a number. */
int query_parse_size(const char *s, double *out);

#endif
