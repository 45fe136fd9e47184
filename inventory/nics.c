/* Network interfaces from sys/class/net. Only interfaces backed by a device count: the
 * loopback, bridges, bonds, VLANs, tunnels and veths have no `device` link. Drivers leave
 * out what they do not know — virtio-net has no speed, a link-down port reads speed -1 or
 * fails to read it at all — and that becomes null. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"

#define MAX_SPEED_MBPS 10000000LL /* above any Ethernet; drivers print (u32)-1 for unknown */

static json_t *nic_mac(const char *root, const char *name)
{
	char rel[512], mac[128];
	bool zero = true;

	snprintf(rel, sizeof(rel), "sys/class/net/%s/address", name);
	if (file_read_text(root, rel, mac, sizeof(mac)) < 0 || !mac[0])
		return json_null();
	for (char *p = mac; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		zero &= *p == '0' || *p == ':';
	}
	return zero ? json_null() : json_text(mac);
}

static json_t *nic_speed(const char *root, const char *name)
{
	char rel[512];
	long long mbps;

	snprintf(rel, sizeof(rel), "sys/class/net/%s/speed", name);
	if (file_read_integer(root, rel, &mbps) < 0 || mbps <= 0 || mbps > MAX_SPEED_MBPS)
		return json_null();
	return json_integer(mbps);
}

/* carrier says it directly, but cannot be read while the interface is administratively
 * down; operstate then still tells a missing cable or a down port from "unknown". */
static json_t *nic_link(const char *root, const char *name)
{
	char rel[512], state[64];
	long long carrier;

	snprintf(rel, sizeof(rel), "sys/class/net/%s/carrier", name);
	if (file_read_integer(root, rel, &carrier) == 0 && (carrier == 0 || carrier == 1))
		return json_boolean(carrier);
	snprintf(rel, sizeof(rel), "sys/class/net/%s/operstate", name);
	if (file_read_text(root, rel, state, sizeof(state)) < 0)
		return json_null();
	if (strcmp(state, "up") == 0)
		return json_true();
	if (strcmp(state, "down") == 0 || strcmp(state, "lowerlayerdown") == 0 ||
	    strcmp(state, "notpresent") == 0)
		return json_false();
	return json_null();
}

/* The PCI function of the NIC: the device itself, or the PCI parent of a virtio device
 * (.../0000:00:03.0/virtio2). Anything further away — the USB controller of a USB NIC —
 * is not the NIC's address: null. */
static json_t *nic_pci(const char *root, const char *name)
{
	char rel[512], path[4096], *last, *parent;

	snprintf(rel, sizeof(rel), "sys/class/net/%s/device", name);
	if (file_resolve(root, rel, path, sizeof(path)) < 0 || !(last = strrchr(path, '/')))
		return json_null();
	*last++ = '\0';
	if (pci_address_valid(last))
		return json_string(last);
	if (strncmp(last, "virtio", 6) != 0 || !(parent = strrchr(path, '/')) ||
	    !pci_address_valid(parent + 1))
		return json_null();
	return json_string(parent + 1);
}

void nics_collect(struct inventory *inv)
{
	char **names, rel[512], driver[128];
	size_t count;
	json_t *nic;

	if (dir_list(inv->root, "sys/class/net", strverscmp, &names, &count) < 0) {
		inv->oom = true;
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const char *name = names[i];

		snprintf(rel, sizeof(rel), "sys/class/net/%s/device", name);
		if (strcmp(name, "lo") == 0 || !file_exists(inv->root, rel))
			continue;
		if (!(nic = json_object())) {
			inv->oom = true;
			break;
		}
		inv_set(inv, nic, "name", json_text(name));
		inv_set(inv, nic, "mac", nic_mac(inv->root, name));
		snprintf(rel, sizeof(rel), "sys/class/net/%s/device/driver", name);
		inv_set(inv, nic, "driver", file_link_name(inv->root, rel, driver, sizeof(driver)) == 0 ?
					    json_text(driver) : json_null());
		inv_set(inv, nic, "speed_mbps", nic_speed(inv->root, name));
		inv_set(inv, nic, "link", nic_link(inv->root, name));
		inv_set(inv, nic, "pci", nic_pci(inv->root, name));
		inv_append(inv, inv_section(inv, "nics"), nic);
	}
	dir_list_free(names, count);
}
