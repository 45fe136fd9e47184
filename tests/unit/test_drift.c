/*
 * Unit tests of server/drift.c: hardware drift between two inventories of one host, by the
 * parts' identities. The inventories are the shape anemos-inventory reports (a server with
 * two DIMMs, two disks and two NICs); each case changes one thing of the first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "anemosd.h"
#include "support.h"

static const char base[] =
	"{\"cpu\": {\"model\": \"Intel(R) Xeon(R) Gold 6230\", \"sockets\": 2, \"threads\": 80},"
	" \"bios\": {\"vendor\": \"Dell Inc.\", \"version\": \"2.17.1\"},"
	" \"memory\": {\"total_bytes\": 68719476736, \"dimms\": ["
	"   {\"slot\": \"A1\", \"size_bytes\": 34359738368, \"manufacturer\": \"Hynix\", \"part\": \"HMA84\", \"serial\": \"3A1B2C3D\"},"
	"   {\"slot\": \"A2\", \"size_bytes\": 34359738368, \"manufacturer\": \"Hynix\", \"part\": \"HMA84\", \"serial\": \"3A1B2C3E\"},"
	"   {\"slot\": \"B1\", \"size_bytes\": 0, \"serial\": \"Not Specified\"}]},"
	" \"disks\": [{\"name\": \"sda\", \"model\": \"MZ7LH960\", \"serial\": \"S45NNA0M1\", \"wwn\": \"0x5002538e\"},"
	"             {\"name\": \"sdb\", \"model\": \"MZ7LH960\", \"serial\": \"S45NNA0M2\"}],"
	" \"nics\": [{\"name\": \"eno1\", \"mac\": \"24:6e:96:8a:3c:10\", \"driver\": \"ixgbe\"},"
	"            {\"name\": \"eno2\", \"mac\": \"24:6e:96:8a:3c:12\", \"driver\": \"ixgbe\"}]}";

/* base with the JSON changes f makes; the drift from base to it, in words, "; "-joined. */
static char *drift_after(void (*f)(json_t *inv))
{
	json_t *old = json_loads(base, 0, NULL), *new = json_deep_copy(old), *changes, *c;
	char *text = calloc(1, 2048), *words;
	size_t i;

	assert_non_null(old);
	f(new);
	changes = inventory_drift(old, new);
	assert_non_null(changes);
	json_array_foreach(changes, i, c) {
		words = drift_words(c);
		assert_non_null(words);
		strcat(strcat(text, i ? "; " : ""), words);
		free(words);
	}
	json_decref(changes);
	json_decref(old);
	json_decref(new);
	return text;
}

static json_t *at(json_t *inv, const char *section, const char *list, size_t i)
{
	return json_array_get(json_object_get(section ? json_object_get(inv, section) : inv, list), i);
}

static void nothing(json_t *inv) { (void)inv; }
static void dimm_moved(json_t *inv) /* the DIMM of A2 now sits in B2 */
{
	json_object_set_new(at(inv, "memory", "dimms", 1), "slot", json_string("B2"));
}
static void lists_reordered(json_t *inv)
{
	json_t *disks = json_object_get(inv, "disks"), *first = json_incref(json_array_get(disks, 0));

	json_array_remove(disks, 0);
	json_array_append_new(disks, first);
	first = json_incref(json_array_get(json_object_get(inv, "nics"), 0));
	json_array_remove(json_object_get(inv, "nics"), 0);
	json_array_append_new(json_object_get(inv, "nics"), first);
}
static void disk_replaced(json_t *inv) /* sdb swapped for another disk */
{
	json_object_set_new(at(inv, NULL, "disks", 1), "serial", json_string("S45NNA0M9"));
}
static void disk_removed(json_t *inv) { json_array_remove(json_object_get(inv, "disks"), 0); }
static void disk_renamed(json_t *inv) /* the kernel calls sda sdc now: the same disk */
{
	json_object_set_new(at(inv, NULL, "disks", 0), "name", json_string("sdc"));
}
static void dimm_added(json_t *inv)
{
	json_array_append_new(json_object_get(json_object_get(inv, "memory"), "dimms"),
			      json_pack("{s:s, s:s, s:s, s:s}", "slot", "B2", "manufacturer", "Samsung", "part", "M393",
					"serial", "99AA"));
}
static void placeholder_serial(json_t *inv) /* a part with no identity is not compared */
{
	json_object_set_new(at(inv, "memory", "dimms", 2), "serial", json_string("SerNum0"));
}
static void nic_replaced(json_t *inv)
{
	json_object_set_new(at(inv, NULL, "nics", 1), "mac", json_string("3c:ec:ef:00:00:01"));
	json_object_set_new(at(inv, NULL, "nics", 1), "driver", json_string("i40e"));
}
static void bios_updated(json_t *inv)
{
	json_object_set_new(json_object_get(inv, "bios"), "version", json_string("2.19.1"));
}
static void cpu_halved(json_t *inv)
{
	json_object_set_new(json_object_get(inv, "cpu"), "sockets", json_integer(1));
	json_object_set_new(json_object_get(inv, "cpu"), "threads", json_integer(40));
}

static void test_drift(void **state)
{
	static const struct {
		void (*change)(json_t *inv);
		const char *says;
	} cases[] = {
		{ nothing, "" },
		{ dimm_moved, "" },
		{ lists_reordered, "" },
		{ disk_renamed, "" },
		{ placeholder_serial, "" },
		{ disk_replaced, "disk replaced: sdb MZ7LH960 serial S45NNA0M2 → sdb MZ7LH960 serial S45NNA0M9" },
		{ disk_removed, "disk removed: sda MZ7LH960 serial S45NNA0M1" },
		{ dimm_added, "dimm added: B2 Samsung M393 serial 99AA" },
		{ nic_replaced, "nic replaced: eno2 24:6e:96:8a:3c:12 ixgbe → eno2 3c:ec:ef:00:00:01 i40e" },
		{ bios_updated, "bios changed: Dell Inc. 2.17.1 → Dell Inc. 2.19.1" },
		{ cpu_halved, "cpu changed: Intel(R) Xeon(R) Gold 6230, sockets 2, threads 80 → "
			      "Intel(R) Xeon(R) Gold 6230, sockets 1, threads 40" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = drift_after(cases[i].change);

		if (strcmp(text, cases[i].says))
			fail_msg("case %zu: drift '%s', expected '%s'", i, text, cases[i].says);
		free(text);
	}
}

/* An inventory without some lists (a first one, a VM) compares without failing. */
static void test_sparse(void **state)
{
	json_t *a = json_loads("{}", 0, NULL), *b = json_loads(base, 0, NULL), *d;

	(void)state;
	d = inventory_drift(a, b);
	assert_int_equal(json_array_size(d), 2 + 2 + 2); /* two DIMMs with serials, two disks, two NICs */
	json_decref(d);
	d = inventory_drift(b, a);
	assert_int_equal(json_array_size(d), 6);
	json_decref(d);
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drift),
		cmocka_unit_test(test_sparse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
