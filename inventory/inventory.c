/* inventory_collect: the skeleton in the contract's shape, the order in which the sources
 * fill it, and the two facts too small for a file of their own (firmware mode, total
 * memory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"

json_t *inventory_skeleton(void)
{
	return json_pack("{s:{s:n,s:n,s:n,s:n,s:n,s:n}, s:{s:n,s:n,s:n}, s:{s:n,s:n,s:n,s:n},"
			 " s:{s:n,s:n,s:n}, s:n, s:{s:n,s:n,s:n,s:n,s:n}, s:{s:n,s:[]},"
			 " s:[], s:[], s:[]}",
			 "system", "vendor", "product", "serial", "uuid", "sku", "family",
			 "baseboard", "vendor", "product", "serial",
			 "chassis", "vendor", "type", "serial", "asset_tag",
			 "bios", "vendor", "version", "date",
			 "firmware",
			 "cpu", "model", "sockets", "cores", "threads", "mhz",
			 "memory", "total_bytes", "dimms",
			 "disks", "nics", "pci");
}

void inv_set(struct inventory *inv, json_t *obj, const char *key, json_t *value)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		inv->oom = true;
}

void inv_append(struct inventory *inv, json_t *array, json_t *value)
{
	if (!value || json_array_append_new(array, value) < 0)
		inv->oom = true;
}

json_t *inv_section(struct inventory *inv, const char *name)
{
	return json_object_get(inv->json, name);
}

/* "uefi" when the kernel was booted by UEFI (it then exports sys/firmware/efi). "bios" only
 * when sys/firmware is populated without efi: an absent or empty sys/firmware (no sysfs, or a
 * container masking it) says nothing either way. */
static void firmware_collect(struct inventory *inv)
{
	char **names;
	size_t count;

	if (file_exists(inv->root, "sys/firmware/efi")) {
		inv_set(inv, inv->json, "firmware", json_string("uefi"));
		return;
	}
	if (dir_list(inv->root, "sys/firmware", strcmp, &names, &count) < 0) {
		inv->oom = true;
		return;
	}
	if (count > 0)
		inv_set(inv, inv->json, "firmware", json_string("bios"));
	dir_list_free(names, count);
}

/* MemTotal of proc/meminfo in bytes; 0 when unreadable. */
static unsigned long long meminfo_total(const char *root)
{
	unsigned long long kib = 0;
	char *text, *line, *next, *end;
	size_t len;

	if (file_read_all(root, "proc/meminfo", 1 << 20, &text, &len) < 0)
		return 0;
	for (line = text; line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (strncmp(line, "MemTotal:", 9) != 0)
			continue;
		kib = strtoull(line + 9, &end, 10);
		if (end == line + 9 || strcmp(end, " kB") != 0 || kib > (~0ULL >> 11))
			kib = 0;
		break;
	}
	free(text);
	return kib * 1024;
}

/* The installed memory is the sum of the DIMMs when SMBIOS describes every one; otherwise
 * what the kernel manages (MemTotal, a little less than installed). */
static void memory_total_collect(struct inventory *inv, const struct dimm_total *dimms)
{
	unsigned long long total;

	if (dimms->count > 0 && dimms->complete)
		total = dimms->bytes;
	else
		total = meminfo_total(inv->root);
	if (total)
		inv_set(inv, inv_section(inv, "memory"), "total_bytes",
			json_integer((json_int_t)total));
}

json_t *inventory_collect(const char *root)
{
	struct inventory inv = { .root = root, .json = inventory_skeleton(), .oom = false };
	struct cpu_facts smbios_cpu = { .mhz = 0 };
	struct dimm_total dimms = { .count = 0 };

	if (!inv.json)
		return NULL;
	if (smbios_collect(&inv, &smbios_cpu, &dimms) < 0)
		dmi_id_collect(&inv);
	bmc_collect(&inv);
	firmware_collect(&inv);
	cpu_collect(&inv, &smbios_cpu);
	memory_total_collect(&inv, &dimms);
	disks_collect(&inv);
	nics_collect(&inv);
	pci_collect(&inv);
	if (inv.oom) {
		json_decref(inv.json);
		return NULL;
	}
	return inv.json;
}
