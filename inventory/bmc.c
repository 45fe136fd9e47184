/*
 * The machine's BMC ("bmc" of the inventory): that there is one (SMBIOS type 38, smbios.c)
 * and its LAN settings, read in-band from the BMC itself through the kernel's IPMI device
 * (ipmi.c), so that anemosd knows where to reach it over the network. Without the device
 * (no BMC, or no IPMI modules) only what SMBIOS said is there.
 */
#include <string.h>

#include "errors.h"
#include "inventory_internal.h"

json_t *bmc_section(struct inventory *inv)
{
	json_t *bmc = json_object_get(inv->json, "bmc");

	if (bmc)
		return bmc;
	bmc = json_pack("{s:b, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n}", "present", 1, "interface",
			"ipmi_version", "base_address", "channel", "ip", "ip_source", "mac", "netmask", "gateway");
	inv_set(inv, inv->json, "bmc", bmc);
	return inv->oom ? NULL : bmc;
}

static json_t *address_or_null(const char *ip)
{
	return ip[0] && strcmp(ip, "0.0.0.0") != 0 ? json_string(ip) : json_null();
}

void bmc_fill_lan(struct inventory *inv, json_t *bmc, const struct ipmi_lan *lan, unsigned channel)
{
	inv_set(inv, bmc, "channel", json_integer(channel));
	inv_set(inv, bmc, "ip", address_or_null(lan->ip));
	inv_set(inv, bmc, "netmask", address_or_null(lan->netmask));
	inv_set(inv, bmc, "gateway", address_or_null(lan->gateway));
	inv_set(inv, bmc, "ip_source", lan->ip_source ? json_string(lan->ip_source) : json_null());
	inv_set(inv, bmc, "mac", lan->mac[0] && strcmp(lan->mac, "00:00:00:00:00:00") != 0 ?
				 json_string(lan->mac) : json_null());
}

void bmc_collect(struct inventory *inv)
{
	struct ipmi_dev d = { .fd = -1, .timeout_ms = 3000 };
	struct ipmi_lan lan;
	unsigned channel;
	json_t *bmc;

	if (ipmi_open(inv->root, &d) < 0)
		return;
	if (!(bmc = bmc_section(inv))) {
		ipmi_close(&d);
		return;
	}
	/* The LAN channel the BMC names, else 1 (where nearly every BMC has its NIC). */
	if (!(channel = ipmi_lan_channel(&d)))
		channel = 1;
	if (ipmi_lan_read(&d, channel, &lan) == 0)
		bmc_fill_lan(inv, bmc, &lan, channel);
	else
		err_clear(); /* the inventory then has no LAN settings of the BMC */
	ipmi_close(&d);
}
