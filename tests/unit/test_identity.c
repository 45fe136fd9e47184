/*
 * Unit tests of hosts_identify (server/hosts.c) against a real SQLite store in a fresh
 * temporary folder: which host a booting machine is, from its MAC, SMBIOS UUID and serial,
 * and that firmware placeholders never merge two machines. The cases are one boot each, in
 * order, against the same store: later rows find the hosts earlier rows made.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "anemosd.h"
#include "support.h"
#include "log.h"

#define UUID_A "4c4c4544-0042-3510-8048-b4c04f4e4e32"
#define UUID_B "9f3b1c2a-7d4e-4f60-8a1b-2c3d4e5f6a7b"
#define UUID_ZERO "00000000-0000-0000-0000-000000000000"
#define UUID_FF "ffffffff-ffff-ffff-ffff-ffffffffffff"
#define OEM "To be filled by O.E.M."

/* One boot: what the machine reports, and which host it must turn out to be. */
struct boot_case {
	const char *what;
	const char *mac, *uuid, *serial, *vendor;
	int same_as;          /* index of an earlier case whose host this is; NEW: a new host */
	size_t nmacs;         /* MACs the host has afterwards */
	const char *want_uuid, *want_serial; /* stored afterwards; NULL: none */
};
#define NEW (-1)

static const struct boot_case cases[] = {
	/* 0 */ { "first contact", "52:54:00:00:00:01", UUID_A, "CZ2048ABCD", "Dell Inc.",
		  NEW, 1, UUID_A, "CZ2048ABCD" },
	/* 1 */ { "same MAC again", "52:54:00:00:00:01", UUID_A, "CZ2048ABCD", "Dell Inc.",
		  0, 1, UUID_A, "CZ2048ABCD" },
	/* 2 */ { "second NIC, same UUID", "52:54:00:00:00:02", UUID_A, NULL, NULL,
		  0, 2, UUID_A, "CZ2048ABCD" },
	/* 3 */ { "third NIC, same serial and vendor, no UUID", "52:54:00:00:00:03", NULL,
		  "CZ2048ABCD", "Dell Inc.", 0, 3, UUID_A, "CZ2048ABCD" },
	/* 4 */ { "known MAC with nothing else", "52:54:00:00:00:03", NULL, NULL, NULL,
		  0, 3, UUID_A, "CZ2048ABCD" },
	/* 5 */ { "all-zero UUID, machine one", "52:54:00:00:01:01", UUID_ZERO, NULL, NULL,
		  NEW, 1, NULL, NULL },
	/* 6 */ { "all-zero UUID, machine two", "52:54:00:00:01:02", UUID_ZERO, NULL, NULL,
		  NEW, 1, NULL, NULL },
	/* 7 */ { "all-F UUID, machine one", "52:54:00:00:01:03", UUID_FF, NULL, NULL,
		  NEW, 1, NULL, NULL },
	/* 8 */ { "all-F UUID, machine two", "52:54:00:00:01:04", UUID_FF, NULL, NULL,
		  NEW, 1, NULL, NULL },
	/* 9 */ { "OEM serial, machine one", "52:54:00:00:02:01", NULL, OEM, OEM,
		  NEW, 1, NULL, NULL },
	/* 10 */ { "OEM serial, machine two", "52:54:00:00:02:02", NULL, OEM, OEM,
		   NEW, 1, NULL, NULL },
	/* 11 */ { "OEM serial and zero UUID", "52:54:00:00:02:03", UUID_ZERO, "Default string",
		   "Default string", NEW, 1, NULL, NULL },
	/* 12 */ { "serial at vendor one", "52:54:00:00:03:01", NULL, "S1234567", "LENOVO",
		   NEW, 1, NULL, "S1234567" },
	/* 13 */ { "same serial at vendor two", "52:54:00:00:03:02", NULL, "S1234567",
		   "Supermicro", NEW, 1, NULL, "S1234567" },
	/* 14 */ { "second NIC of vendor two's machine", "52:54:00:00:03:03", NULL, "S1234567",
		   "Supermicro", 13, 2, NULL, "S1234567" },
	/* 15 */ { "UUID first seen on a known host", "52:54:00:00:03:03", UUID_B, "S1234567",
		   "Supermicro", 13, 2, UUID_B, "S1234567" },
	/* 16 */ { "that UUID from a new NIC", "52:54:00:00:03:04", UUID_B, NULL, NULL,
		   13, 3, UUID_B, "S1234567" },
	/* 17 */ { "a real UUID of its own", "52:54:00:00:04:01", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
		   NULL, NULL, NEW, 1, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", NULL },
};

static int64_t ids[ARRAY_SIZE(cases)]; /* the host each case found, 0 until it ran */

/* hosts_identify inside its own transaction, as boot.c runs it; the transaction ends
 * before any check, so a failed check never leaves the write lock held. */
static int identify(const struct boot_case *c, struct host *out)
{
	struct boot_identity ident = { .uuid = c->uuid, .serial = c->serial, .vendor = c->vendor };
	int rc;

	snprintf(ident.mac, sizeof(ident.mac), "%s", c->mac);
	if ((rc = db_begin()) < 0)
		return rc;
	rc = hosts_identify(&ident, true, out);
	if (rc < 0) {
		db_rollback();
		return rc;
	}
	if ((rc = db_commit()) < 0)
		host_free(out);
	return rc;
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool has_mac(const struct host *h, const char *mac)
{
	for (size_t i = 0; i < h->nmacs; i++)
		if (strcmp(h->macs[i], mac) == 0)
			return true;
	return false;
}

static void test_identify(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct boot_case *c = &cases[i];
		struct host h = { 0 };
		char why[256] = "";
		int rc = identify(c, &h);

		if (rc < 0)
			fail_msg("case %zu (%s): hosts_identify = %d: %s", i, c->what, rc, err_msg());
		ids[i] = h.id;
		if (c->same_as == NEW) {
			for (size_t j = 0; j < i; j++)
				if (ids[j] == h.id)
					snprintf(why, sizeof(why), "is host %lld of case %zu, want a new host",
						 (long long)h.id, j);
			if (!why[0] && (h.status != HOST_NEW || h.next_boot != BOOT_DISCOVER))
				snprintf(why, sizeof(why), "new host has status %s, next boot %s",
					 host_status_name(h.status), boot_action_name(h.next_boot));
		} else if (h.id != ids[c->same_as]) {
			snprintf(why, sizeof(why), "is host %lld, want host %lld of case %d",
				 (long long)h.id, (long long)ids[c->same_as], c->same_as);
		}
		if (!why[0] && h.nmacs != c->nmacs)
			snprintf(why, sizeof(why), "host has %zu MACs, want %zu", h.nmacs, c->nmacs);
		if (!why[0] && !has_mac(&h, c->mac))
			snprintf(why, sizeof(why), "host lacks the MAC it booted from");
		if (!why[0] && !same_text(h.uuid, c->want_uuid))
			snprintf(why, sizeof(why), "stored uuid %s, want %s", h.uuid ? h.uuid : "NULL",
				 c->want_uuid ? c->want_uuid : "NULL");
		if (!why[0] && !same_text(h.serial, c->want_serial))
			snprintf(why, sizeof(why), "stored serial %s, want %s",
				 h.serial ? h.serial : "NULL", c->want_serial ? c->want_serial : "NULL");
		if (!why[0] && h.last_seen == 0)
			snprintf(why, sizeof(why), "last_seen not set");
		host_free(&h);
		if (why[0])
			fail_msg("case %zu (%s): %s", i, c->what, why);
	}
}

/* True if some event of the host has a message containing every one of `words`. */
static bool has_event(const char *ref, const char *const *words, size_t nwords)
{
	json_t *out = NULL, *ev;
	size_t i;
	bool found = false;

	assert_int_equal(hosts_events(ref, 100, &out), 0);
	json_array_foreach(json_object_get(out, "events"), i, ev) {
		const char *msg = json_string_value(json_object_get(ev, "message"));
		size_t w = 0;

		while (msg && w < nwords && strstr(msg, words[w]))
			w++;
		found |= msg && w == nwords;
	}
	json_decref(out);
	return found;
}

static void test_events(void **state)
{
	char first[32], second[32];
	const struct {
		const char *ref; /* NULL: the id of host `host` */
		int host;        /* case index */
		const char *words[3];
	} checks[] = {
		{ NULL, 0, { "first seen", "52:54:00:00:00:01" } },
		{ NULL, 0, { "new NIC", "52:54:00:00:00:02", "SMBIOS UUID" } },
		{ NULL, 0, { "new NIC", "52:54:00:00:00:03", "serial" } },
		{ "52-54-00-00-00-02", 0, { "new NIC", "SMBIOS UUID" } }, /* found by any MAC */
		{ NULL, 13, { "new NIC", "52:54:00:00:03:03", "serial" } },
		{ NULL, 13, { "new NIC", "52:54:00:00:03:04", "SMBIOS UUID" } },
		{ NULL, 5, { "first seen", "52:54:00:00:01:01" } },
	};

	(void)state;
	if (!ids[0])
		skip(); /* test_identify did not run */
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		const char *ref = checks[i].ref;
		size_t nwords = 0;

		if (!ref) {
			snprintf(first, sizeof(first), "%lld", (long long)ids[checks[i].host]);
			ref = first;
		}
		while (nwords < ARRAY_SIZE(checks[i].words) && checks[i].words[nwords])
			nwords++;
		if (!has_event(ref, checks[i].words, nwords))
			fail_msg("host %s has no event with \"%s\" and \"%s\"", ref, checks[i].words[0],
				 checks[i].words[1]);
	}
	/* Placeholder machines were never told they are someone else's new NIC. */
	snprintf(second, sizeof(second), "%lld", (long long)ids[6]);
	assert_false(has_event(second, (const char *const[]){ "new NIC" }, 1));
}

static void test_events_unknown_host(void **state)
{
	json_t *out = NULL;

	(void)state;
	assert_int_equal(hosts_events("999999", 100, &out), -ENOENT);
	assert_int_equal(hosts_events("52:54:00:ff:ff:ff", 100, &out), -ENOENT);
	assert_int_equal(hosts_events("no-such-host", 100, &out), -ENOENT);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_events_unknown_host),
	};

	return cmocka_run_group_tests(tests, store_open, store_close);
}
