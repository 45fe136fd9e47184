/* sys/class/dmi/id: the kernel's own reading of SMBIOS, one file per fact. Most files are
 * readable by every user (the serials and the UUID are root-only), so this is the source
 * when the raw table is not readable. The same placeholder rules apply as for the table. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Which file fills which key. */
static const struct {
	const char *section, *key, *file;
} dmi_files[] = {
	{ "system", "vendor", "sys_vendor" },
	{ "system", "product", "product_name" },
	{ "system", "serial", "product_serial" },
	{ "system", "sku", "product_sku" },
	{ "system", "family", "product_family" },
	{ "baseboard", "vendor", "board_vendor" },
	{ "baseboard", "product", "board_name" },
	{ "baseboard", "serial", "board_serial" },
	{ "chassis", "vendor", "chassis_vendor" },
	{ "chassis", "serial", "chassis_serial" },
	{ "chassis", "asset_tag", "chassis_asset_tag" },
	{ "bios", "vendor", "bios_vendor" },
	{ "bios", "version", "bios_version" },
	{ "bios", "date", "bios_date" },
};

/* True for the kernel's UUID format: 8-4-4-4-12 hex digits. */
static bool uuid_well_formed(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

void dmi_id_collect(struct inventory *inv)
{
	char path[64], value[256];
	long long type;

	for (size_t i = 0; i < ARRAY_SIZE(dmi_files); i++) {
		snprintf(path, sizeof(path), "sys/class/dmi/id/%s", dmi_files[i].file);
		if (file_read_text(inv->root, path, value, sizeof(value)) == 0)
			inv_set(inv, inv_section(inv, dmi_files[i].section), dmi_files[i].key,
				json_firmware_text(value));
	}
	if (file_read_integer(inv->root, "sys/class/dmi/id/chassis_type", &type) == 0 &&
	    type >= 0 && type <= 0xff && smbios_chassis_type((unsigned)type))
		inv_set(inv, inv_section(inv, "chassis"), "type",
			json_string(smbios_chassis_type((unsigned)type)));
	if (file_read_text(inv->root, "sys/class/dmi/id/product_uuid", value, sizeof(value)) == 0 &&
	    uuid_well_formed(value) && !uuid_is_placeholder(value)) {
		for (char *p = value; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		inv_set(inv, inv_section(inv, "system"), "uuid", json_string(value));
	}
}
