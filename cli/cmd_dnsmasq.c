/*
 * anemosctl dnsmasq config: the dnsmasq configuration of a provisioning network, from a few
 * settings (lib/dnsmasq_conf.c decides what each boot client is sent). Needs no anemosd:
 * deploy/install.sh runs it, and an operator can run it anywhere and copy the result.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anemosctl.h"
#include "dnsmasq_conf.h"

enum dnsmasq_option_id {
	OPT_MODE = 256,
	OPT_INTERFACE,
	OPT_SERVER_IP,
	OPT_SERVER_URL,
	OPT_TFTP,
	OPT_TFTP_ROOT,
	OPT_RANGE,
	OPT_NETMASK,
	OPT_LEASE,
	OPT_ROUTER,
	OPT_DNS,
	OPT_SUBNET,
	OPT_OUTPUT,
};

struct dnsmasq_options {
	struct dnsmasq_settings s;
	char *range;		/* --range START,END, split into s.range_start/end */
	const char *output;	/* --output FILE, else stdout */
	int mode_given;
};

static const char *const modes[] = { "proxy", "dhcp", NULL };
static const char *const tftp_servers[] = { "tftp-hpa", "dnsmasq", NULL };

static int dnsmasq_option(void *ctx, int option, const char *arg)
{
	struct dnsmasq_options *o = ctx;
	char *comma;

	switch (option) {
	case OPT_MODE:
		if (check_choice("--mode", arg, modes) != 0)
			return -EINVAL;
		o->s.mode = strcmp(arg, "dhcp") == 0 ? DHCP_FULL : DHCP_PROXY;
		o->mode_given = 1;
		return 0;
	case OPT_TFTP:
		if (check_choice("--tftp", arg, tftp_servers) != 0)
			return -EINVAL;
		o->s.tftp = strcmp(arg, "dnsmasq") == 0 ? TFTP_DNSMASQ : TFTP_HPA;
		return 0;
	case OPT_RANGE:
		free(o->range);
		if (!(o->range = strdup(arg)))
			return -ENOMEM;
		if (!(comma = strchr(o->range, ',')))
			return err_set(-EINVAL, "--range needs START,END");
		*comma = '\0';
		o->s.range_start = o->range;
		o->s.range_end = comma + 1;
		return 0;
	case OPT_INTERFACE: o->s.interface = arg; return 0;
	case OPT_SERVER_IP: o->s.server_ip = arg; return 0;
	case OPT_SERVER_URL: o->s.server_url = arg; return 0;
	case OPT_TFTP_ROOT: o->s.tftp_root = arg; return 0;
	case OPT_NETMASK: o->s.netmask = arg; return 0;
	case OPT_LEASE: o->s.lease = arg; return 0;
	case OPT_ROUTER: o->s.router = arg; return 0;
	case OPT_DNS: o->s.dns = arg; return 0;
	case OPT_SUBNET: o->s.subnet = arg; return 0;
	case OPT_OUTPUT: o->output = arg; return 0;
	}
	return -EINVAL;
}

/* Writes @text to @path through a temporary file and a rename, so a reader never sees half. */
static int write_file(const char *path, const char *text)
{
	char *tmp;
	FILE *f;
	int rc = 0;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	if (!(f = fopen(tmp, "w"))) {
		rc = err_set(-errno, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	if (fputs(text, f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -errno ? -errno : -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0) {
		err_set(rc, "writing %s: %s", path, strerror(-rc));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

int dnsmasq_config(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "interface", required_argument, NULL, OPT_INTERFACE },
		{ "server-ip", required_argument, NULL, OPT_SERVER_IP },
		{ "server-url", required_argument, NULL, OPT_SERVER_URL },
		{ "tftp", required_argument, NULL, OPT_TFTP },
		{ "tftp-root", required_argument, NULL, OPT_TFTP_ROOT },
		{ "range", required_argument, NULL, OPT_RANGE },
		{ "netmask", required_argument, NULL, OPT_NETMASK },
		{ "lease", required_argument, NULL, OPT_LEASE },
		{ "router", required_argument, NULL, OPT_ROUTER },
		{ "dns", required_argument, NULL, OPT_DNS },
		{ "subnet", required_argument, NULL, OPT_SUBNET },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ NULL, 0, NULL, 0 },
	};
	struct dnsmasq_options o = {
		.s = {
			.tftp = TFTP_HPA,
			.tftp_root = "/srv/anemos/tftp",
			.bios_file = DNSMASQ_BIOS_FILE,
			.efi_x64_file = DNSMASQ_EFI_X64_FILE,
		},
	};
	char *text, *arm64 = NULL;
	int rc;

	(void)ctl;
	if ((rc = parse_command(argc, argv, options, dnsmasq_option, &o, 0, 0)) < 0)
		goto out;
	if (!o.mode_given) {
		rc = err_set(-EINVAL, "--mode proxy or --mode dhcp is needed");
		goto out;
	}
	/* The arm64 binary is offered only where one is installed. */
	if (asprintf(&arm64, "%s/%s", o.s.tftp_root, DNSMASQ_EFI_ARM64_FILE) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if (access(arm64, R_OK) == 0)
		o.s.efi_arm64_file = DNSMASQ_EFI_ARM64_FILE;
	if (!(text = dnsmasq_conf_render(&o.s))) {
		rc = -errno; /* with the message, which run_command prints */
		goto out;
	}
	if (o.output)
		rc = write_file(o.output, text);
	else
		rc = fputs(text, stdout) == EOF ? -EIO : 0;
	free(text);
	rc = rc < 0 ? rc : 0;
out:
	free(arm64);
	free(o.range);
	return rc;
}
