/*
 * Unit tests of lib/dnsmasq_conf.c: what each kind of boot client is sent, in both modes,
 * and the settings refused before anything is written. That dnsmasq itself accepts the
 * output, and that machines boot with it, is tests/e2e/firmware-pxe.test.sh's business.
 */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dnsmasq_conf.h"
#include "errors.h"

static struct dnsmasq_settings full(void)
{
	struct dnsmasq_settings s = {
		.mode = DHCP_FULL, .tftp = TFTP_HPA, .interface = "eno2", .server_ip = "192.0.2.1",
		.server_url = "http://192.0.2.1:8080", .tftp_root = "/srv/anemos/tftp",
		.range_start = "192.0.2.100", .range_end = "192.0.2.199",
		.bios_file = DNSMASQ_BIOS_FILE, .efi_x64_file = DNSMASQ_EFI_X64_FILE,
	};
	return s;
}

static struct dnsmasq_settings proxy(void)
{
	struct dnsmasq_settings s = full();

	s.mode = DHCP_PROXY;
	s.range_start = s.range_end = NULL;
	s.subnet = "192.0.2.0";
	return s;
}

/* Renders @s, which must be accepted, and returns the text (freed by the caller). */
static char *render_ok(const struct dnsmasq_settings *s)
{
	char *text = dnsmasq_conf_render(s);

	if (!text)
		fail_msg("refused: %s", err_msg());
	return text;
}

static void assert_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	for (;;) {
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return;
		if (!(p = strchr(p, '\n')))
			break;
		p++;
	}
	fail_msg("no line '%s' in:\n%s", line, text);
}

static void assert_no(const char *text, const char *part)
{
	if (strstr(text, part))
		fail_msg("unexpected '%s' in:\n%s", part, text);
}

static void test_full_dhcp(void **state)
{
	struct dnsmasq_settings s = full();
	char *t;

	(void)state;
	s.router = "192.0.2.254";
	s.dns = "192.0.2.53";
	t = render_ok(&s);
	assert_line(t, "port=0");
	assert_line(t, "interface=eno2");
	assert_line(t, "dhcp-range=192.0.2.100,192.0.2.199,255.255.255.0,1h");
	assert_line(t, "dhcp-option=option:router,192.0.2.254");
	assert_line(t, "dhcp-option=option:dns-server,192.0.2.53");
	/* iPXE is told apart by option 175 and its user class, and goes to anemosd. */
	assert_line(t, "dhcp-match=set:ipxe,175");
	assert_line(t, "dhcp-userclass=set:ipxe,iPXE");
	assert_line(t, "dhcp-boot=tag:ipxe,http://192.0.2.1:8080/boot.ipxe");
	/* Firmware by option 93, from tftp-hpa on the server's address. */
	assert_line(t, "dhcp-match=set:bios,option:client-arch,0");
	assert_line(t, "dhcp-match=set:efi-x64,option:client-arch,7");
	assert_line(t, "dhcp-match=set:efi-x64,option:client-arch,9");
	assert_line(t, "dhcp-boot=tag:!ipxe,tag:bios,undionly.kpxe,,192.0.2.1");
	assert_line(t, "dhcp-boot=tag:!ipxe,tag:efi-x64,ipxe.efi,,192.0.2.1");
	assert_line(t, "dhcp-boot=tag:pxe,tag:!ipxe,tag:!has-arch,undionly.kpxe,,192.0.2.1");
	/* UEFI HTTP boot: a URL on anemosd and option 60 echoed. */
	assert_line(t, "dhcp-vendorclass=set:httpclient,HTTPClient");
	assert_line(t, "dhcp-option-force=tag:httpclient,option:vendor-class,HTTPClient");
	assert_line(t, "dhcp-boot=tag:httpclient,tag:http-x64,http://192.0.2.1:8080/boot/ipxe.efi");
	/* No arm64 binary: said, not offered. */
	assert_no(t, "tag:efi-arm64,");
	assert_no(t, "enable-tftp");
	free(t);

	s.efi_arm64_file = DNSMASQ_EFI_ARM64_FILE;
	s.tftp = TFTP_DNSMASQ;
	s.router = NULL;
	s.lease = "12h";
	t = render_ok(&s);
	assert_line(t, "dhcp-boot=tag:!ipxe,tag:efi-arm64,ipxe-arm64.efi,,");
	assert_line(t, "dhcp-boot=tag:httpclient,tag:http-arm64,http://192.0.2.1:8080/boot/ipxe-arm64.efi");
	assert_line(t, "enable-tftp");
	assert_line(t, "tftp-root=/srv/anemos/tftp");
	assert_line(t, "dhcp-boot=tag:!ipxe,tag:bios,undionly.kpxe,,");
	assert_line(t, "dhcp-range=192.0.2.100,192.0.2.199,255.255.255.0,12h");
	/* Without a router, none is handed out (an isolated network). */
	assert_line(t, "dhcp-option=option:router");
	free(t);
}

static void test_proxy(void **state)
{
	struct dnsmasq_settings s = proxy();
	char *t;

	(void)state;
	t = render_ok(&s);
	assert_line(t, "dhcp-range=192.0.2.0,proxy,255.255.255.0");
	assert_line(t, "dhcp-boot=tag:ipxe,http://192.0.2.1:8080/boot.ipxe");
	assert_line(t, "pxe-service=tag:!ipxe,x86PC,\"Anemos\",undionly.kpxe,192.0.2.1");
	assert_line(t, "pxe-service=tag:!ipxe,BC_EFI,\"Anemos\",ipxe.efi,192.0.2.1");
	assert_line(t, "pxe-service=tag:!ipxe,x86-64_EFI,\"Anemos\",ipxe.efi,192.0.2.1");
	/* Proxy mode hands out no addresses and no router. */
	assert_no(t, "dhcp-authoritative");
	assert_no(t, "option:router");
	assert_no(t, "192.0.2.100");
	free(t);
}

static void test_refused(void **state)
{
	static const struct {
		const char *what, *field, *value;
		int proxy;
	} cases[] = {
		{ "interface with a space", "interface", "eth 0", 0 },
		{ "interface too long", "interface", "abcdefghijklmnop", 0 },
		{ "no interface", "interface", NULL, 0 },
		{ "server address not IPv4", "server_ip", "192.0.2", 0 },
		{ "URL with a comma", "server_url", "http://192.0.2.1:8080/a,b", 0 },
		{ "URL without host", "server_url", "http:///boot", 0 },
		{ "URL of another scheme", "server_url", "ftp://192.0.2.1", 0 },
		{ "relative TFTP root", "tftp_root", "srv/tftp", 0 },
		{ "TFTP root with a quote", "tftp_root", "/srv/\"x", 0 },
		{ "range start after end", "range_start", "192.0.2.200", 0 },
		{ "range in another network", "range_end", "198.51.100.9", 0 },
		{ "range start missing", "range_start", NULL, 0 },
		{ "netmask with holes", "netmask", "255.0.255.0", 0 },
		{ "lease not a time", "lease", "1x", 0 },
		{ "router not IPv4", "router", "gw", 0 },
		{ "router inside the pool", "router", "192.0.2.150", 0 },
		{ "server inside the pool", "server_ip", "192.0.2.120", 0 },
		{ "pool with the network address", "range_start", "192.0.2.0", 0 },
		{ "pool with the broadcast address", "range_end", "192.0.2.255", 0 },
		{ "URL with a trailing slash", "server_url", "http://192.0.2.1:8080/", 0 },
		{ "proxy without subnet", "subnet", NULL, 1 },
		{ "proxy subnet elsewhere", "subnet", "198.51.100.0", 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dnsmasq_settings s = cases[i].proxy ? proxy() : full();
		const char *f = cases[i].field, *v = cases[i].value;
		char *t;

		if (!strcmp(f, "interface")) s.interface = v;
		else if (!strcmp(f, "server_ip")) s.server_ip = v;
		else if (!strcmp(f, "server_url")) s.server_url = v;
		else if (!strcmp(f, "tftp_root")) s.tftp_root = v;
		else if (!strcmp(f, "range_start")) s.range_start = v;
		else if (!strcmp(f, "range_end")) s.range_end = v;
		else if (!strcmp(f, "netmask")) s.netmask = v;
		else if (!strcmp(f, "lease")) s.lease = v;
		else if (!strcmp(f, "router")) s.router = v;
		else if (!strcmp(f, "subnet")) s.subnet = v;
		err_clear();
		t = dnsmasq_conf_render(&s);
		if (t || errno != EINVAL || err_msg()[0] == '\0') {
			free(t);
			fail_msg("case '%s' was not refused with a message", cases[i].what);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_dhcp),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
