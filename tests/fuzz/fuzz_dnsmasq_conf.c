/* libFuzzer: the dnsmasq configuration rendering (lib/dnsmasq_conf.c) with any settings, as
 * `anemosctl dnsmasq config` passes them from its command line. Input: a first byte of
 * flags (bit 0 full-DHCP mode, bit 1 dnsmasq's TFTP), then the settings separated by tabs
 * (so that a setting may hold a newline), in the order of the fields list below; a missing
 * or empty setting is NULL.
 * Besides crashes: a refusal has a message, and an accepted configuration holds only the
 * lines Anemos writes (comments, blank lines and known dnsmasq options), so no setting can
 * add a line or an option of its own. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmasq_conf.h"
#include "errors.h"
#include "support.h"

/* The options dnsmasq_conf_render writes: NAME=VALUE or a bare NAME. */
static bool known_line(const char *line, size_t len)
{
	static const char *const options[] = {
		"port", "interface", "bind-dynamic", "log-dhcp", "dhcp-match", "dhcp-userclass",
		"dhcp-vendorclass", "enable-tftp", "tftp-root", "tftp-no-fail", "dhcp-range",
		"dhcp-option", "dhcp-option-force", "dhcp-authoritative", "dhcp-boot", "pxe-prompt",
		"pxe-service",
	};
	size_t name = strcspn(line, "=\n");

	if (len == 0 || line[0] == '#')
		return true;
	if (name > len)
		name = len;
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strlen(options[i]) == name && strncmp(line, options[i], name) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsmasq_settings s = { .mode = DHCP_PROXY };
	const char **fields[] = {
		&s.interface, &s.server_ip, &s.server_url, &s.tftp_root, &s.range_start,
		&s.range_end, &s.netmask, &s.lease, &s.router, &s.dns, &s.subnet, &s.bios_file,
		&s.efi_x64_file, &s.efi_arm64_file,
	};
	char *values[sizeof(fields) / sizeof(fields[0])], *text, *conf;
	size_t n = sizeof(fields) / sizeof(fields[0]);

	if (size == 0 || !(text = fuzz_text(data + 1, size - 1)))
		return 0;
	s.mode = data[0] & 1 ? DHCP_FULL : DHCP_PROXY;
	s.tftp = data[0] & 2 ? TFTP_DNSMASQ : TFTP_HPA;
	fuzz_split(text, '\t', values, n);
	for (size_t i = 0; i < n; i++)
		*fields[i] = values[i] && *values[i] ? values[i] : NULL;
	err_clear();
	conf = dnsmasq_conf_render(&s);
	if (!conf && !err_msg()[0])
		fuzz_fail("settings refused without a message");
	for (const char *line = conf; line && *line; ) {
		size_t len = strcspn(line, "\n");

		if (!known_line(line, len))
			fuzz_fail("the configuration has a line Anemos does not write: '%.*s'", (int)len, line);
		line += len + (line[len] == '\n');
	}
	free(conf);
	free(text);
	return 0;
}
