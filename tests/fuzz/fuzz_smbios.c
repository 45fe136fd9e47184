/* libFuzzer: anemos-inventory's SMBIOS parsing (inventory/smbios.c), which reads the
 * firmware's tables of whatever machine it runs on; its result reaches anemosd as the
 * machine's identity. The first byte picks the SMBIOS version the entry point would declare
 * (its value modulo 6: unknown, 2.1, 2.3, 2.6, 3.0, 3.5), the rest is the structure table;
 * the whole input is also read as an entry point. Besides crashes and reads past the table:
 * the result must be JSON that renders, with as many DIMM entries as devices counted. With
 * ANEMOS_FUZZ_VERBOSE set, the result is printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"
#include "support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int versions[] = { 0, 0x0201, 0x0203, 0x0206, 0x0300, 0x0305 };
	struct inventory inv = { .root = "/nonexistent" };
	struct cpu_facts cpu;
	struct dimm_total dimms;
	uint8_t *table;
	char *text;
	size_t dimm_entries;

	(void)smbios_entry_version(data, size);
	if (size == 0)
		return 0;
	/* A copy of exactly the table's length, so that ASan sees any read past its end. */
	if (!(table = malloc(size - 1 ? size - 1 : 1)))
		return 0;
	memcpy(table, data + 1, size - 1);
	if (!(inv.json = inventory_skeleton())) {
		free(table);
		return 0;
	}
	smbios_fill(&inv, table, size - 1, versions[data[0] % 6], &cpu, &dimms);
	free(table);
	if (inv.oom)
		fuzz_fail("smbios_fill ran out of memory (or made a value jansson refused)");
	if (!(text = json_dumps(inv.json, JSON_COMPACT)))
		fuzz_fail("the inventory smbios_fill made does not render");
	if (getenv("ANEMOS_FUZZ_VERBOSE"))
		fprintf(stderr, "%s\ncpu: %s, %ld sockets, %ld cores, %ld threads, %ld MHz\n", text, cpu.model,
			cpu.sockets, cpu.cores, cpu.threads, cpu.mhz);
	free(text);
	dimm_entries = json_array_size(json_object_get(json_object_get(inv.json, "memory"), "dimms"));
	if (dimm_entries != dimms.count)
		fuzz_fail("%zu DIMM entries for %zu devices counted", dimm_entries, dimms.count);
	if (cpu.sockets < 0 || cpu.cores < 0 || cpu.threads < 0 || cpu.mhz < 0)
		fuzz_fail("negative processor counts: %ld sockets, %ld cores, %ld threads, %ld MHz",
			  cpu.sockets, cpu.cores, cpu.threads, cpu.mhz);
	json_decref(inv.json);
	return 0;
}
