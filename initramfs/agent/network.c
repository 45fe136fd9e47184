/*
 * A host's network as the installed system will have it: read from install.network (the plan,
 * or anemos.net carried over by kexec.sh from the system that ran before) and written out as
 * each kind of system reads it. Pure text in, text out; configure.c writes the files.
 *
 * install.network (server/validate.c checks what an operator sends):
 *   {"mode": "static", "address": "A/N", "addresses": ["A/N", ...], "gateway": G,
 *    "gateway6": G6, "dns": [D, ...], "ipv6": "auto"|"dhcp"|"off", "mac": M}, or
 *   {"mode": "dhcp"}: IPv4 (and what router advertisements offer) from DHCP, or
 *   {"mode": "dhcp", "addresses": ["A6/N", ...], "gateway6": G6, "dns": [...], "ipv6", "mac"}:
 *    DHCPv4, and these static IPv6 addresses beside it (as many clouds give: the IPv4 address
 *    by DHCP, a /64 or /128 of IPv6 written by hand), or
 *   {"mode": "dhcp", "ipv6": "dhcp", "gateway6": G6, "dns": [...], "mac": M}: DHCPv4 and
 *    DHCPv6, with or without static addresses.
 * Addresses and gateways of either family; an IPv6 gateway may be link-local (fe80::1), and a
 * gateway outside every address's prefix (a /32 or /128 host route, as clouds give) is
 * reached on-link. "ipv6": "auto" also takes router advertisements (SLAAC, and DHCPv6 where
 * they say so); "dhcp" asks DHCPv6 for an address without waiting for one and takes none
 * (the route is "gateway6", as DHCPv6 gives none); "off" neither.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "install.h"
#include "boot_contract.h"

/* One network, unpacked from its JSON (the strings stay the JSON's). */
struct net_spec {
	bool fixed;		/* static: no DHCP */
	bool extra;		/* DHCP for IPv4, and beside it static IPv6 addresses or DHCPv6 */
	bool dhcp6;		/* "ipv6": "dhcp": DHCPv6 asked without router advertisements */
	const char *addr[NET_ADDR_MAX + 1];
	size_t naddr;
	const char *gw[2];	/* the IPv4 and the IPv6 gateway, either may be NULL */
	const char *dns[NET_DNS_MAX];
	size_t ndns;
	const char *ipv6;	/* "auto", "dhcp", "off" or NULL (the system's default) */
	const char *mac;
};

static bool is_v6(const char *a)
{
	return strchr(a, ':') != NULL;
}

static void spec_of(json_t *net, struct net_spec *s)
{
	const char *mode = json_string_value(json_object_get(net, "mode"));
	const char *a = json_string_value(json_object_get(net, "address"));
	const char *g;
	json_t *v;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->fixed = mode && strcmp(mode, "static") == 0;
	if (a)
		s->addr[s->naddr++] = a;
	json_array_foreach(json_object_get(net, "addresses"), i, v)
		if (json_is_string(v) && s->naddr < NET_ADDR_MAX + 1)
			s->addr[s->naddr++] = json_string_value(v);
	if ((g = json_string_value(json_object_get(net, "gateway"))))
		s->gw[is_v6(g)] = g;
	if ((g = json_string_value(json_object_get(net, "gateway6"))) && is_v6(g))
		s->gw[1] = g;
	json_array_foreach(json_object_get(net, "dns"), i, v)
		if (json_is_string(v) && s->ndns < NET_DNS_MAX)
			s->dns[s->ndns++] = json_string_value(v);
	s->ipv6 = json_string_value(json_object_get(net, "ipv6"));
	s->dhcp6 = s->ipv6 && strcmp(s->ipv6, "dhcp") == 0;
	s->mac = json_string_value(json_object_get(net, "mac"));
	if (!s->fixed) {	/* beside DHCP: IPv6 only (DHCPv4 gives the address and route) */
		size_t kept = 0;

		for (i = 0; i < s->naddr; i++)
			if (is_v6(s->addr[i]))
				s->addr[kept++] = s->addr[i];
		s->naddr = kept;
		s->gw[0] = NULL;
		s->extra = kept > 0 || s->dhcp6;
	}
}

bool network_asks_dhcp6(json_t *net)
{
	struct net_spec s;

	spec_of(net, &s);
	return s.dhcp6;
}

bool network_has_settings(json_t *net)
{
	struct net_spec s;

	spec_of(net, &s);
	return s.fixed || s.extra;
}

/* The N of "/N": 1-3 digits, at most max; -EINVAL otherwise. */
static int prefix_len(const char *n, int max)
{
	size_t len = strlen(n);
	int bits;

	if (len < 1 || len > 3 || strspn(n, "0123456789") != len)
		return -EINVAL;
	bits = atoi(n);
	return bits <= max ? bits : -EINVAL;
}

/* An address of either family, with "/N" when prefix: what network_from_boot_arg keeps. */
static bool token_ok(const char *w, bool prefix)
{
	unsigned char buf[16];
	char addr[64];
	const char *slash = strchr(w, '/');
	size_t len = slash ? (size_t)(slash - w) : strlen(w);
	int family = is_v6(w) ? AF_INET6 : AF_INET;

	if (prefix != (slash != NULL) || len >= sizeof(addr))
		return false;
	memcpy(addr, w, len);
	addr[len] = '\0';
	return inet_pton(family, addr, buf) == 1 && (!slash || prefix_len(slash + 1, family == AF_INET6 ? 128 : 32) >= 0);
}

/* Whether gateway gw lies inside the prefix of address cidr ("A/N"), same family. */
static bool in_prefix(const char *gw, const char *cidr)
{
	unsigned char g[16], a[16];
	char addr[64];
	const char *slash = strchr(cidr, '/');
	int family = is_v6(gw) ? AF_INET6 : AF_INET, bits;
	size_t len = slash ? (size_t)(slash - cidr) : 0;

	if (!slash || len >= sizeof(addr) || is_v6(cidr) != (family == AF_INET6))
		return false;
	memcpy(addr, cidr, len);
	addr[len] = '\0';
	/* The carried-over text is the old system's: a prefix past the family's length is no prefix. */
	bits = prefix_len(slash + 1, family == AF_INET6 ? 128 : 32);
	if (bits < 0 || inet_pton(family, gw, g) != 1 || inet_pton(family, addr, a) != 1)
		return false;
	for (int i = 0; i < bits; i++)
		if ((g[i / 8] ^ a[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* A gateway the kernel must be told is on the link: outside every address's prefix (an IPv6
 * link-local one is on the link by definition). */
static bool on_link(const struct net_spec *s, const char *gw)
{
	if (strncasecmp(gw, "fe80:", 5) == 0)
		return false;
	for (size_t i = 0; i < s->naddr; i++)
		if (in_prefix(gw, s->addr[i]))
			return false;
	return true;
}

/* Whether the "+"-joined @flags (NULL: none) has @flag. */
static bool has_flag(const char *flags, const char *flag)
{
	size_t len = strlen(flag);

	for (const char *p = flags; p && *p; p = strchr(p, '+') ? strchr(p, '+') + 1 : NULL)
		if (strncmp(p, flag, len) == 0 && (p[len] == '\0' || p[len] == '+'))
			return true;
	return false;
}

json_t *network_from_boot_arg(const char *spec, const char *mac)
{
	bool fixed = spec && strncmp(spec, "static,", 7) == 0;
	size_t max = fixed ? NET_ADDR_MAX + 1 : NET_ADDR_MAX;
	char *copy, *f[5] = { 0 }, *p, *save = NULL, *w;
	json_t *net, *addrs, *dns;
	int n = 0;

	/* dhcp,...: DHCPv4, and the IPv6 side written by hand (only that is kept) */
	if (!spec || (!fixed && strncmp(spec, "dhcp,", 5) != 0) || !(copy = strdup(spec)))
		return json_pack("{s:s}", "mode", "dhcp");
	/* strtok_r would merge empty fields (no gateway): split by hand. */
	f[n++] = p = copy;
	while (n < 5 && (p = strchr(p, ','))) {
		*p++ = '\0';
		f[n++] = p;
	}
	net = json_pack("{s:s}", "mode", fixed ? "static" : "dhcp");
	addrs = json_array();
	/* What is not an address (of the right shape) is left out: it would go into files. */
	for (w = f[1] ? strtok_r(f[1], "+", &save) : NULL; w; w = strtok_r(NULL, "+", &save))
		if (json_array_size(addrs) < max && token_ok(w, true) && (fixed || is_v6(w)))
			json_array_append_new(addrs, json_string(w));
	for (w = f[2] ? strtok_r(f[2], "+", &save) : NULL; w; w = strtok_r(NULL, "+", &save))
		if (token_ok(w, false) && (fixed || is_v6(w)))
			json_object_set_new(net, is_v6(w) ? "gateway6" : "gateway", json_string(w));
	dns = json_array();
	for (w = f[3] ? strtok_r(f[3], "+", &save) : NULL; w; w = strtok_r(NULL, "+", &save))
		if (json_array_size(dns) < NET_DNS_MAX && token_ok(w, false))
			json_array_append_new(dns, json_string(w));
	json_object_set_new(net, "dns", dns);
	/* The old system's IPv6, flags joined by "+": auto6, SLAAC addresses (router
	 * advertisements taken, and DHCPv6 where they say so); dhcp6, an address by DHCPv6 without
	 * them; neither, no RAs. */
	json_object_set_new(net, "ipv6", json_string(has_flag(f[4], "auto6") ? "auto" : has_flag(f[4], "dhcp6") ? "dhcp"
													      : "off"));
	if (mac && strlen(mac) == 17 && strspn(mac, "0123456789abcdef:") == 17)
		json_object_set_new(net, "mac", json_string(mac));
	free(copy);
	if (json_array_size(addrs) == 0 && strcmp(json_string_value(json_object_get(net, "ipv6")), "dhcp") == 0) {
		/* DHCPv6 and no static address: DHCP of both families, the IPv6 gateway kept */
		json_decref(addrs);
		json_object_set_new(net, "mode", json_string("dhcp"));
		json_object_del(net, "gateway");
		return net;
	}
	if (json_array_size(addrs) == 0) {
		json_decref(addrs);
		json_decref(net);
		return json_pack("{s:s}", "mode", "dhcp");
	}
	if (fixed) {
		json_object_set(net, "address", json_array_get(addrs, 0));
		json_array_remove(addrs, 0);
	}
	if (json_array_size(addrs))
		json_object_set(net, "addresses", addrs);
	json_decref(addrs);
	return net;
}

/* install.network from anemos.net= and anemos.mac= on the command line (kexec.sh wrote them
 * from the old system's; network.c reads them). */
json_t *network_from_cmdline(const char *cmdline_path)
{
	char line[4096], *word, *save = NULL, *spec = NULL, *mac = NULL;
	FILE *in = fopen(cmdline_path, "re");

	if (!in)
		return NULL;
	if (!fgets(line, sizeof(line), in))
		line[0] = '\0';
	fclose(in);
	for (word = strtok_r(line, " \t\n", &save); word; word = strtok_r(NULL, " \t\n", &save))
		if (strncmp(word, BOOT_ARG_NET "=", sizeof(BOOT_ARG_NET)) == 0)
			spec = word + sizeof(BOOT_ARG_NET);
		else if (strncmp(word, BOOT_ARG_MAC "=", sizeof(BOOT_ARG_MAC)) == 0)
			mac = word + sizeof(BOOT_ARG_MAC);
	return spec ? network_from_boot_arg(spec, mac) : NULL;
}

void network_carry(json_t *plan, const char *cmdline_path)
{
	json_t *install = json_object_get(plan, "install"), *net = json_object_get(install, "network");

	/* Only where the plan names no network, or anemosd's default ("default": true). */
	if (!json_is_object(install) || (net && !json_is_true(json_object_get(net, "default"))) || !cmdline_path ||
	    !(net = network_from_cmdline(cmdline_path)))
		return;
	json_object_set_new(install, "network", net);
}

/* /etc/anemos/network, read by the busybox images' /sbin/init: key=value lines, address= and
 * gateway= once per address and gateway (the first of each is what older readers take). */
static void render_anemos(FILE *out, const struct net_spec *s)
{
	fputs(s->fixed ? "mode=static\n" : "mode=dhcp\n", out);
	if (!s->fixed && !s->extra)
		return;
	if (s->mac)
		fprintf(out, "mac=%s\n", s->mac);
	for (size_t i = 0; i < s->naddr; i++)
		fprintf(out, "address=%s\n", s->addr[i]);
	if (s->fixed && !s->gw[0] && !s->gw[1])
		fputs("gateway=\n", out);
	for (int i = 0; i < 2; i++)
		if (s->gw[i])
			fprintf(out, "gateway=%s\n", s->gw[i]);
	fputs("dns=", out);
	for (size_t i = 0; i < s->ndns; i++)
		fprintf(out, "%s%s", i ? " " : "", s->dns[i]);
	fputc('\n', out);
	if (s->ipv6)
		fprintf(out, "ipv6=%s\n", s->ipv6);
}

/* systemd-networkd's .network: the NIC by its MAC when known; on-link gateways as routes. */
static void render_networkd(FILE *out, const struct net_spec *s)
{
	if (s->mac)
		fprintf(out, "[Match]\nMACAddress=%s\n\n[Network]\n", s->mac);
	else
		fputs("[Match]\nName=en* eth*\n\n[Network]\n", out);
	if (!s->fixed) {	/* beside static IPv6, DHCPv6 only where asked or RAs are taken */
		fputs(s->extra && !s->dhcp6 && !(s->ipv6 && strcmp(s->ipv6, "auto") == 0) ? "DHCP=ipv4\n" : "DHCP=yes\n",
		      out);
		if (!s->extra)
			return;
	} else if (s->dhcp6) {
		fputs("DHCP=ipv6\n", out);
	}
	for (size_t i = 0; i < s->naddr; i++)
		fprintf(out, "Address=%s\n", s->addr[i]);
	for (int i = 0; i < 2; i++)
		if (s->gw[i] && !on_link(s, s->gw[i]))
			fprintf(out, "Gateway=%s\n", s->gw[i]);
	if (s->ndns) {
		fputs("DNS=", out);
		for (size_t i = 0; i < s->ndns; i++)
			fprintf(out, "%s%s", i ? " " : "", s->dns[i]);
		fputc('\n', out);
	}
	if (s->ipv6)
		fprintf(out, "IPv6AcceptRA=%s\n", strcmp(s->ipv6, "auto") == 0 ? "yes" : "no");
	for (int i = 0; i < 2; i++)
		if (s->gw[i] && on_link(s, s->gw[i]))
			fprintf(out, "\n[Route]\nGateway=%s\nGatewayOnLink=yes\n", s->gw[i]);
	/* Without RAs networkd asks DHCPv6 only when told to; the DUID of the MAC, as the Anemos
	 * environment's dhcpcd sends, so that a server pinning addresses gives the same one. */
	if (s->dhcp6)
		fputs("\n[DHCPv6]\nWithoutRA=solicit\nDUIDType=link-layer\n", out);
}

/* cloud-init's NoCloud network-config (version 2), for images with cloud-init. */
static void render_nocloud(FILE *out, const struct net_spec *s)
{
	fputs("version: 2\nethernets:\n  anemos0:\n", out);
	if (s->mac)
		fprintf(out, "    match:\n      macaddress: \"%s\"\n", s->mac);
	else
		fputs("    match:\n      name: \"e*\"\n", out);
	if (!s->fixed && !s->extra) {
		fputs("    dhcp4: true\n    dhcp6: true\n", out);
		return;
	}
	fprintf(out, "    dhcp4: %s\n    dhcp6: %s\n", s->fixed ? "false" : "true",
		s->dhcp6 || (!s->fixed && s->ipv6 && strcmp(s->ipv6, "auto") == 0) ? "true" : "false");
	if (s->ipv6)
		fprintf(out, "    accept-ra: %s\n", strcmp(s->ipv6, "auto") == 0 ? "true" : "false");
	if (s->naddr)
		fputs("    addresses:\n", out);
	for (size_t i = 0; i < s->naddr; i++)
		fprintf(out, "      - \"%s\"\n", s->addr[i]);
	if (s->gw[0] || s->gw[1]) {
		fputs("    routes:\n", out);
		for (int i = 0; i < 2; i++)
			if (s->gw[i])
				fprintf(out, "      - to: \"%s\"\n        via: \"%s\"\n%s", i ? "::/0" : "0.0.0.0/0", s->gw[i],
					on_link(s, s->gw[i]) ? "        on-link: true\n" : "");
	}
	if (s->ndns) {
		fputs("    nameservers:\n      addresses:\n", out);
		for (size_t i = 0; i < s->ndns; i++)
			fprintf(out, "        - \"%s\"\n", s->dns[i]);
	}
}

/* ifupdown's name servers line (for resolvconf), where there are any. */
static void ifupdown_dns(FILE *out, const struct net_spec *s)
{
	if (!s->ndns)
		return;
	fputs("\tdns-nameservers", out);
	for (size_t j = 0; j < s->ndns; j++)
		fprintf(out, " %s", s->dns[j]);
	fputc('\n', out);
}

/* ifupdown's stanzas of a family: "iface anemos0 inet|inet6 static" once per address (the
 * documented way to have several), the first with the gateway (ifupdown 0.8 routes it
 * "onlink", so one outside the prefix works), every name server (for resolvconf) in the
 * first stanza written, and RAs off or on as "ipv6" says. Returns whether it wrote one. */
static bool ifupdown_family(FILE *out, const struct net_spec *s, int v6, bool dns_done)
{
	bool first = true;

	for (size_t i = 0; i < s->naddr; i++) {
		if (is_v6(s->addr[i]) != (v6 != 0))
			continue;
		fprintf(out, "\niface anemos0 %s static\n\taddress %s\n", v6 ? "inet6" : "inet", s->addr[i]);
		if (first && s->gw[v6])
			fprintf(out, "\tgateway %s\n", s->gw[v6]);
		if (first && !dns_done)
			ifupdown_dns(out, s);
		if (first && v6 && s->ipv6)
			fprintf(out, "\taccept_ra %d\n\tautoconf %d\n", strcmp(s->ipv6, "auto") == 0 ? 2 : 0,
				strcmp(s->ipv6, "auto") == 0);
		else if (first && !v6 && s->ipv6 && strcmp(s->ipv6, "auto") != 0)
			fputs("\tpre-up sysctl -q -e -w net.ipv6.conf.$IFACE.accept_ra=0 net.ipv6.conf.$IFACE.autoconf=0 "
			      "2>/dev/null || true\n", out);
		first = false;
	}
	return !first;
}

/* ifupdown's DHCPv6 stanza ("ipv6": "dhcp"): no RAs; the IPv6 gateway and the name servers
 * where no static IPv6 stanza has them. */
static void ifupdown_dhcp6(FILE *out, const struct net_spec *s, bool v6_static, bool dns_done)
{
	fputs("\niface anemos0 inet6 dhcp\n\taccept_ra 0\n", out);
	if (!v6_static && s->gw[1])
		fprintf(out, "\tpost-up ip -6 route replace default via %s dev $IFACE onlink\n", s->gw[1]);
	if (!dns_done)
		ifupdown_dns(out, s);
}

/* ifupdown's /etc/network/interfaces (for static addresses only: under DHCP alone the image's
 * own stays),
 * for systems without systemd-networkd: the NIC by its MAC (a pattern that names it anemos0
 * whatever the kernel calls it), else the first en* or eth* one. */
static void render_ifupdown(FILE *out, const struct net_spec *s)
{
	bool v4, v6;

	fputs("# Written by Anemos at install: this host's network.\nauto lo\niface lo inet loopback\n\n", out);
	if (s->mac)
		fprintf(out, "auto mac/%s/=anemos0\n", s->mac);
	else
		fputs("auto /e*/1=anemos0\n", out);
	if (!s->fixed) {
		fputs("iface anemos0 inet dhcp\n", out);
		if (!s->extra)
			fputs("iface anemos0 inet6 auto\n", out);
		v4 = false;
	} else {
		v4 = ifupdown_family(out, s, 0, false);
	}
	v6 = s->extra || s->fixed ? ifupdown_family(out, s, 1, v4) : false;
	if (s->dhcp6)
		ifupdown_dhcp6(out, s, v6, v4 || v6);
}

char *network_render(json_t *net, enum net_format format)
{
	struct net_spec s;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		return NULL;
	spec_of(net, &s);
	if (format == NET_ANEMOS)
		render_anemos(out, &s);
	else if (format == NET_NETWORKD)
		render_networkd(out, &s);
	else if (format == NET_IFUPDOWN)
		render_ifupdown(out, &s);
	else
		render_nocloud(out, &s);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
