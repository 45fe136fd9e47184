/*
 * The dnsmasq configuration of a provisioning network.
 *
 * Every boot goes the same way: the firmware's PXE client gets an iPXE binary over TFTP,
 * iPXE asks DHCP again and this time is sent to anemosd's /boot.ipxe over HTTP. So dnsmasq
 * tells clients apart by what they send:
 *   - iPXE says so (option 175, user class "iPXE"): it gets the /boot.ipxe URL. Without
 *     this tag a chainloaded iPXE would be sent iPXE again, forever;
 *   - a firmware PXE client gives its architecture in option 93: 0 BIOS gets undionly.kpxe
 *     (iPXE over the NIC's own UNDI driver), 7 and 9 x86-64 UEFI get the iPXE EFI binary,
 *     11 arm64 UEFI gets the arm64 one where there is one;
 *   - a UEFI HTTP-boot client (vendor class "HTTPClient", architecture 16 or 19) gets the
 *     EFI binary as an HTTP URL on anemosd, and "HTTPClient" echoed in option 60, which the
 *     firmware requires.
 * In full-DHCP mode these are dhcp-boot lines beside an address pool. In proxy mode the
 * site's server gives the address and dnsmasq answers PXE clients only (the ProxyDHCP offer
 * and the PXE boot-server exchange on port 4011), so the firmware binaries are pxe-service
 * lines, whose TFTP server is named explicitly.
 */
#include "dnsmasq_conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

static bool is_ipv4(const char *text)
{
	struct in_addr a;

	return text && inet_pton(AF_INET, text, &a) == 1;
}

static unsigned long ipv4_value(const char *text)
{
	struct in_addr a;

	inet_pton(AF_INET, text, &a);
	return ntohl(a.s_addr);
}

/* A netmask is ones then zeros. */
static bool is_netmask(const char *text)
{
	unsigned long m;

	if (!is_ipv4(text))
		return false;
	m = ipv4_value(text);
	return m != 0 && ((~m & 0xffffffffUL) & ((~m & 0xffffffffUL) + 1)) == 0;
}

/* Interface names as the kernel allows them, minus what would need quoting here. */
static bool is_ifname(const char *text)
{
	size_t i, n = text ? strlen(text) : 0;

	if (n == 0 || n > 15)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)text[i]) && !strchr("._-@:", text[i]))
			return false;
	return true;
}

/*
 * A URL or file name goes into a comma-separated dnsmasq line and onto the wire: visible
 * ASCII without the separators and quotes dnsmasq gives meaning to.
 */
static bool is_plain(const char *text)
{
	const char *p;

	if (!text || !*text)
		return false;
	for (p = text; *p; p++)
		if (*p < 0x21 || *p > 0x7e || strchr(",#\"'\\", *p))
			return false;
	return true;
}

/* An http(s) URL with a host and without a trailing '/' (paths are appended to it). */
static bool is_http_url(const char *text)
{
	return is_plain(text) && (strncmp(text, "http://", 7) == 0 || strncmp(text, "https://", 8) == 0) &&
	       text[strcspn(text, ":") + 3] != '\0' && text[strcspn(text, ":") + 3] != '/' &&
	       text[strlen(text) - 1] != '/';
}

/* Dnsmasq lease times: a number with an optional m/h/d/w suffix, or "infinite". */
static bool is_lease(const char *text)
{
	const char *p = text;

	if (strcmp(text, "infinite") == 0)
		return true;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '\0' || (strchr("smhdw", *p) && p[1] == '\0');
}

/* 0, or -EINVAL with the message naming the first setting that is wrong. */
static int check(const struct dnsmasq_settings *s)
{
	const char *mask = s->netmask ? s->netmask : "255.255.255.0";

	if (!is_ifname(s->interface))
		return err_set(-EINVAL, "interface: '%s' is not an interface name",
			   s->interface ? s->interface : "");
	if (!is_ipv4(s->server_ip))
		return err_set(-EINVAL, "server address: '%s' is not an IPv4 address",
			   s->server_ip ? s->server_ip : "");
	if (!is_http_url(s->server_url))
		return err_set(-EINVAL, "server URL: '%s' is not an http:// or https:// URL "
			   "without spaces, commas, quotes or a trailing '/'", s->server_url ? s->server_url : "");
	if (!s->tftp_root || s->tftp_root[0] != '/' || !is_plain(s->tftp_root))
		return err_set(-EINVAL, "TFTP root: '%s' must be an absolute path without spaces, "
			   "commas or quotes", s->tftp_root ? s->tftp_root : "");
	if (!is_plain(s->bios_file) || !is_plain(s->efi_x64_file) ||
	    (s->efi_arm64_file && !is_plain(s->efi_arm64_file)))
		return err_set(-EINVAL, "boot file names must be plain names");
	if (!is_netmask(mask))
		return err_set(-EINVAL, "netmask: '%s' is not a netmask", mask);
	if (s->mode == DHCP_FULL) {
		unsigned long m = ipv4_value(mask), a, b;

		if (!is_ipv4(s->range_start) || !is_ipv4(s->range_end))
			return err_set(-EINVAL, "range: full-DHCP mode needs START,END as IPv4 addresses");
		a = ipv4_value(s->range_start);
		b = ipv4_value(s->range_end);
		if (a > b)
			return err_set(-EINVAL, "range: %s comes after %s", s->range_start, s->range_end);
		if ((a & m) != (b & m) || (a & m) != (ipv4_value(s->server_ip) & m))
			return err_set(-EINVAL, "range: %s-%s and the server address %s are not in one "
				   "network of netmask %s", s->range_start, s->range_end, s->server_ip, mask);
		if (ipv4_value(s->server_ip) >= a && ipv4_value(s->server_ip) <= b)
			return err_set(-EINVAL, "range: the server address %s is inside %s-%s", s->server_ip,
				   s->range_start, s->range_end);
		if (s->router && is_ipv4(s->router) && ipv4_value(s->router) >= a && ipv4_value(s->router) <= b)
			return err_set(-EINVAL, "range: the router %s is inside %s-%s", s->router,
				   s->range_start, s->range_end);
		if ((a & ~m & 0xffffffffUL) == 0 || (b | m) == 0xffffffffUL)
			return err_set(-EINVAL, "range: %s-%s includes the network or broadcast address",
				   s->range_start, s->range_end);
		if (s->lease && !is_lease(s->lease))
			return err_set(-EINVAL, "lease: '%s' is not a lease time (e.g. 1h, 30m, infinite)",
				   s->lease);
		if (s->router && !is_ipv4(s->router))
			return err_set(-EINVAL, "router: '%s' is not an IPv4 address", s->router);
		if (s->dns && !is_ipv4(s->dns))
			return err_set(-EINVAL, "dns: '%s' is not an IPv4 address", s->dns);
	} else {
		unsigned long m = ipv4_value(mask);

		if (!is_ipv4(s->subnet))
			return err_set(-EINVAL, "subnet: proxy mode needs the network's address "
				   "(e.g. 192.0.2.0)");
		if ((ipv4_value(s->subnet) & m) != (ipv4_value(s->server_ip) & m))
			return err_set(-EINVAL, "subnet: the server address %s is not in %s/%s",
				   s->server_ip, s->subnet, mask);
	}
	return 0;
}

char *dnsmasq_conf_render(const struct dnsmasq_settings *s)
{
	const char *mask = s->netmask ? s->netmask : "255.255.255.0";
	const char *tftp_ip = s->tftp == TFTP_DNSMASQ ? "" : s->server_ip;
	char *text = NULL;
	size_t size = 0;
	FILE *out;

	if (check(s) != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!(out = open_memstream(&text, &size))) {
		err_set(-ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}

	fprintf(out,
		"# dnsmasq for Anemos on %s, %s mode, TFTP by %s.\n"
		"# Generated by `anemosctl dnsmasq config`: change the settings and generate it\n"
		"# again rather than editing it.\n"
		"port=0\n"
		"interface=%s\n"
		"bind-dynamic\n"
		"log-dhcp\n"
		"\n"
		"# Who is asking: iPXE says so; firmware gives its architecture (option 93).\n"
		"dhcp-match=set:ipxe,175\n"
		"dhcp-userclass=set:ipxe,iPXE\n"
		"dhcp-match=set:bios,option:client-arch,0\n"
		"dhcp-match=set:efi-x64,option:client-arch,7\n"
		"dhcp-match=set:efi-x64,option:client-arch,9\n"
		"dhcp-match=set:efi-arm64,option:client-arch,11\n"
		"dhcp-match=set:http-x64,option:client-arch,16\n"
		"dhcp-match=set:http-arm64,option:client-arch,19\n"
		"dhcp-vendorclass=set:httpclient,HTTPClient\n"
		"dhcp-vendorclass=set:pxe,PXEClient\n"
		"dhcp-match=set:has-arch,option:client-arch\n"
		"\n",
		s->interface, s->mode == DHCP_FULL ? "full-DHCP" : "proxy-DHCP",
		s->tftp == TFTP_DNSMASQ ? "dnsmasq" : "tftp-hpa", s->interface);

	if (s->tftp == TFTP_DNSMASQ)
		fprintf(out, "# dnsmasq serves the boot programs itself, read-only, from this folder only\n"
			"# (no tftp-secure: the files belong to root, dnsmasq runs as its own user).\n"
			"enable-tftp\ntftp-root=%s\ntftp-no-fail\n\n", s->tftp_root);
	else
		fprintf(out, "# tftp-hpa (anemos-tftpd.service) serves %s on %s.\n\n",
			s->tftp_root, s->server_ip);

	if (s->mode == DHCP_FULL) {
		fprintf(out, "# The only DHCP server on this network.\n"
			"dhcp-range=%s,%s,%s,%s\n", s->range_start, s->range_end, mask,
			s->lease ? s->lease : "1h");
		if (s->router)
			fprintf(out, "dhcp-option=option:router,%s\n", s->router);
		else
			fprintf(out, "dhcp-option=option:router\n");
		if (s->dns)
			fprintf(out, "dhcp-option=option:dns-server,%s\n", s->dns);
		fprintf(out, "dhcp-authoritative\n\n");
		fprintf(out, "# iPXE goes to anemosd; firmware gets iPXE first.\n"
			"dhcp-boot=tag:ipxe,%s/boot.ipxe\n", s->server_url);
		fprintf(out, "dhcp-boot=tag:!ipxe,tag:bios,%s,,%s\n", s->bios_file, tftp_ip);
		fprintf(out, "# Old BIOS PXE ROMs that send no architecture.\n"
			"dhcp-boot=tag:pxe,tag:!ipxe,tag:!has-arch,%s,,%s\n", s->bios_file, tftp_ip);
		fprintf(out, "dhcp-boot=tag:!ipxe,tag:efi-x64,%s,,%s\n", s->efi_x64_file, tftp_ip);
		if (s->efi_arm64_file)
			fprintf(out, "dhcp-boot=tag:!ipxe,tag:efi-arm64,%s,,%s\n", s->efi_arm64_file, tftp_ip);
		else
			fprintf(out, "# arm64 UEFI: no iPXE binary in the TFTP root (Debian 12 ships none);\n"
				"# put one there as " DNSMASQ_EFI_ARM64_FILE " and generate this again.\n");
		fprintf(out, "\n# UEFI HTTP boot: the EFI binary from anemosd, and option 60 echoed.\n"
			"dhcp-option-force=tag:httpclient,option:vendor-class,HTTPClient\n"
			"dhcp-boot=tag:httpclient,tag:http-x64,%s/boot/%s\n", s->server_url, s->efi_x64_file);
		if (s->efi_arm64_file)
			fprintf(out, "dhcp-boot=tag:httpclient,tag:http-arm64,%s/boot/%s\n",
				s->server_url, s->efi_arm64_file);
	} else {
		fprintf(out, "# The site's DHCP server gives addresses on %s/%s; dnsmasq answers PXE only.\n"
			"dhcp-range=%s,proxy,%s\n"
			"# No menu: boot the one service at once.\n"
			"pxe-prompt=\"Anemos\",0\n\n", s->subnet, mask, s->subnet, mask);
		fprintf(out, "# iPXE goes to anemosd; firmware gets iPXE first.\n"
			"dhcp-boot=tag:ipxe,%s/boot.ipxe\n", s->server_url);
		fprintf(out, "pxe-service=tag:!ipxe,x86PC,\"Anemos\",%s,%s\n", s->bios_file, s->server_ip);
		fprintf(out, "pxe-service=tag:!ipxe,BC_EFI,\"Anemos\",%s,%s\n", s->efi_x64_file, s->server_ip);
		fprintf(out, "pxe-service=tag:!ipxe,x86-64_EFI,\"Anemos\",%s,%s\n", s->efi_x64_file, s->server_ip);
		if (s->efi_arm64_file)
			fprintf(out, "pxe-service=tag:!ipxe,ARM64_EFI,\"Anemos\",%s,%s\n",
				s->efi_arm64_file, s->server_ip);
		else
			fprintf(out, "# arm64 UEFI: no iPXE binary in the TFTP root (Debian 12 ships none);\n"
				"# put one there as " DNSMASQ_EFI_ARM64_FILE " and generate this again.\n");
	}
	if (fclose(out) != 0) {
		free(text);
		err_set(-ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	return text;
}
