/* PCI functions from sys/bus/pci/devices: address, ids as lower-case hex without "0x"
 * ("8086"), the 24-bit class ("020000"), and the bound driver. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"

static bool hex_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool pci_address_valid(const char *s)
{
	size_t len = strlen(s), domain = len - 8;

	/* "dddd:bb:dd.f"; Intel VMD domains have more than four digits ("10000:e1:00.0"). */
	return len >= 12 && hex_digits(s, domain) && s[domain] == ':' &&
	       hex_digits(s + domain + 1, 2) && s[domain + 3] == ':' &&
	       hex_digits(s + domain + 4, 2) && s[domain + 6] == '.' && s[domain + 7] >= '0' &&
	       s[domain + 7] <= '7';
}

/* The attribute file `attr` of a device as `digits` lower-case hex digits ("0x8086" →
 * "8086"); null when unreadable or of another width. */
static json_t *hex_attr(const char *root, const char *address, const char *attr, size_t digits)
{
	char rel[512], text[64], *hex = text;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/%s", address, attr);
	if (file_read_text(root, rel, text, sizeof(text)) < 0)
		return json_null();
	if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		hex += 2;
	if (strlen(hex) != digits || !hex_digits(hex, digits))
		return json_null();
	for (char *p = hex; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return json_string(hex);
}

void pci_collect(struct inventory *inv)
{
	char **names, rel[512], driver[128];
	size_t count;
	json_t *dev;

	if (dir_list(inv->root, "sys/bus/pci/devices", strcmp, &names, &count) < 0) {
		inv->oom = true;
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const char *address = names[i];

		if (!pci_address_valid(address))
			continue;
		if (!(dev = json_object())) {
			inv->oom = true;
			break;
		}
		inv_set(inv, dev, "address", json_string(address));
		inv_set(inv, dev, "vendor_id", hex_attr(inv->root, address, "vendor", 4));
		inv_set(inv, dev, "device_id", hex_attr(inv->root, address, "device", 4));
		inv_set(inv, dev, "class", hex_attr(inv->root, address, "class", 6));
		snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", address);
		inv_set(inv, dev, "driver", file_link_name(inv->root, rel, driver, sizeof(driver)) == 0 ?
					    json_text(driver) : json_null());
		inv_append(inv, inv_section(inv, "pci"), dev);
	}
	dir_list_free(names, count);
}
