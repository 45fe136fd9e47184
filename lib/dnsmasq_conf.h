/*
 * The dnsmasq configuration of a provisioning network (lib/dnsmasq_conf.c): which boot
 * program each kind of network-boot client is told to fetch, in the two modes Anemos runs
 * dnsmasq in. Pure text generation, no I/O, so that it can be tested on its own.
 */
#ifndef ANEMOS_DNSMASQ_CONF_H
#define ANEMOS_DNSMASQ_CONF_H

#include <stddef.h>

enum dhcp_mode {
	DHCP_PROXY,	/* the site's DHCP server gives addresses; dnsmasq only answers PXE */
	DHCP_FULL,	/* dnsmasq is the only DHCP server of an isolated provisioning network */
};

enum tftp_server {
	TFTP_HPA,	/* tftp-hpa's in.tftpd serves the TFTP root (the default) */
	TFTP_DNSMASQ,	/* dnsmasq's own TFTP server does */
};

struct dnsmasq_settings {
	enum dhcp_mode mode;
	enum tftp_server tftp;
	const char *interface;	/* the provisioning network's interface, e.g. "eno2" */
	const char *server_ip;	/* this host's IPv4 address on it: the TFTP server */
	const char *server_url;	/* anemosd's public URL, e.g. "http://192.0.2.1:8080" */
	const char *tftp_root;	/* folder of the boot programs, e.g. "/srv/anemos/tftp" */
	/* DHCP_FULL: the pool, its netmask (default 255.255.255.0), lease time (default "1h"),
	 * and optionally the router and DNS server handed out. */
	const char *range_start, *range_end, *netmask, *lease;
	const char *router, *dns;
	/* DHCP_PROXY: the network the site's DHCP serves, e.g. "192.0.2.0" (netmask as above). */
	const char *subnet;
	/* The iPXE binaries, relative to the TFTP root; arm64 is NULL where none is installed
	 * (Debian 12 ships none). */
	const char *bios_file, *efi_x64_file, *efi_arm64_file;
};

/* The boot programs Debian's ipxe package provides. */
#define DNSMASQ_BIOS_FILE	"undionly.kpxe"
#define DNSMASQ_EFI_X64_FILE	"ipxe.efi"
#define DNSMASQ_EFI_ARM64_FILE	"ipxe-arm64.efi"

/*
 * Checks @s and renders the dnsmasq configuration. Returns a string the caller frees, or
 * NULL with errno and the message (err_set, lib/errors.h): EINVAL and the setting that is
 * wrong, or ENOMEM and "out of memory".
 */
char *dnsmasq_conf_render(const struct dnsmasq_settings *s);

#endif
