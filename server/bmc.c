/*
 * Talking to a host's BMC over IPMI 2.0 (RMCP+, lanplus), through FreeIPMI's libfreeipmi.
 *
 * Why the library and not ipmitool as a program: the password stays inside anemosd (no
 * child process, so nothing on an argv or in an environment another user could read in
 * /proc); every exchange has a session timeout and a retransmission timeout of our choosing,
 * so a hung or absent BMC costs at most a bounded wait of one power worker (power.c), never
 * an HTTP worker; and its errors say what went wrong ("password invalid", "connection
 * timeout", "session timeout", a completion code), where ipmitool prints the same message
 * for a wrong password and an unreachable BMC. Cipher suite 3 (HMAC-SHA1, AES-CBC-128), the
 * one every IPMI 2.0 BMC offers; the open-session-privilege workaround, which some BMCs (and
 * OpenIPMI's ipmi_sim) need and which costs the others nothing.
 *
 * Each call opens its own session and closes it: calls are rare (an operator's action, a
 * poll a minute), and no session can then go stale between them.
 *
 * The library is loaded at the first call (dlopen), not when anemosd starts: mapped and
 * relocated it is 2.1 MiB of a 20 MiB resident set, and most installations never speak IPMI.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <freeipmi/freeipmi.h>

#include "anemosd.h"
#include "log.h"

#ifndef FREEIPMI_SONAME
#define FREEIPMI_SONAME "libfreeipmi.so.17"
#endif

/* What bmc.c uses of libfreeipmi: functions and the templates of the answers it reads. */
#define FREEIPMI_SYMBOLS(X)                                                                  \
	X(ipmi_ctx_create) X(ipmi_ctx_destroy) X(ipmi_ctx_open_outofband_2_0) X(ipmi_ctx_close) \
	X(ipmi_ctx_errnum) X(ipmi_ctx_errormsg) X(fiid_obj_create) X(fiid_obj_get)             \
	X(fiid_obj_destroy) X(ipmi_cmd_get_chassis_status) X(ipmi_cmd_chassis_control)         \
	X(ipmi_cmd_set_system_boot_options_boot_flags) X(tmpl_cmd_get_chassis_status_rs)       \
	X(tmpl_cmd_chassis_control_rs) X(tmpl_cmd_set_system_boot_options_rs)
#define FREEIPMI_POINTER(name) __typeof__(name) *name;
static struct {
	FREEIPMI_SYMBOLS(FREEIPMI_POINTER)
} fi;
static pthread_once_t fi_once = PTHREAD_ONCE_INIT;
static char fi_error[300]; /* why the library could not be loaded; "" once it is */

static void freeipmi_load(void)
{
	void *lib = dlopen(FREEIPMI_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (!lib) {
		snprintf(fi_error, sizeof(fi_error), "IPMI: cannot load %s: %s", FREEIPMI_SONAME, dlerror());
		log_error("%s", fi_error);
		return;
	}
	/* A symbol's address through a void * object: ISO C has no cast from void * to a
	 * function pointer. */
#define FREEIPMI_RESOLVE(name) \
	if (!missing && !(*(void **)&fi.name = dlsym(lib, #name))) \
		missing = #name;
	FREEIPMI_SYMBOLS(FREEIPMI_RESOLVE)
#undef FREEIPMI_RESOLVE
	if (missing) {
		snprintf(fi_error, sizeof(fi_error), "IPMI: %s lacks %s", FREEIPMI_SONAME, missing);
		log_error("%s", fi_error);
		dlclose(lib);
	}
}

/* The error of ctx as -errno: -EACCES for credentials, -ETIMEDOUT for a BMC that did not
 * answer in time, -EIO for the rest; its text into why. */
static int ipmi_failure(ipmi_ctx_t ctx, const char *what, char *why, size_t whysz)
{
	int e = fi.ipmi_ctx_errnum(ctx);

	snprintf(why, whysz, "%s: %s", what, fi.ipmi_ctx_errormsg(ctx));
	switch (e) {
	case IPMI_ERR_USERNAME_INVALID:
	case IPMI_ERR_PASSWORD_INVALID:
	case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
	case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
	case IPMI_ERR_PASSWORD_VERIFICATION_TIMEOUT:
		return -EACCES;
	case IPMI_ERR_CONNECTION_TIMEOUT:
	case IPMI_ERR_SESSION_TIMEOUT:
	case IPMI_ERR_MESSAGE_TIMEOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

/* Reads the chassis power state into *on. */
static int ipmi_power_get(ipmi_ctx_t ctx, bool *on, char *why, size_t whysz)
{
	fiid_obj_t rs = fi.fiid_obj_create(*fi.tmpl_cmd_get_chassis_status_rs);
	uint64_t v = 0;
	int rc = 0;

	if (!rs)
		return -ENOMEM;
	if (fi.ipmi_cmd_get_chassis_status(ctx, rs) < 0)
		rc = ipmi_failure(ctx, "chassis status", why, whysz);
	else if (fi.fiid_obj_get(rs, "current_power_state.power_is_on", &v) < 0)
		rc = (snprintf(why, whysz, "chassis status: the BMC's answer lacks the power state"), -EIO);
	fi.fiid_obj_destroy(rs);
	*on = v != 0;
	return rc;
}

static int ipmi_chassis(ipmi_ctx_t ctx, uint8_t control, char *why, size_t whysz)
{
	fiid_obj_t rs = fi.fiid_obj_create(*fi.tmpl_cmd_chassis_control_rs);
	int rc = 0;

	if (!rs)
		return -ENOMEM;
	if (fi.ipmi_cmd_chassis_control(ctx, control, rs) < 0)
		rc = ipmi_failure(ctx, "chassis control", why, whysz);
	fi.fiid_obj_destroy(rs);
	return rc;
}

/* The one-time boot device (valid for the next boot only), BIOS or UEFI boot. */
static int ipmi_boot_set(ipmi_ctx_t ctx, enum bmc_boot boot, bool efi, char *why, size_t whysz)
{
	fiid_obj_t rs = fi.fiid_obj_create(*fi.tmpl_cmd_set_system_boot_options_rs);
	uint8_t dev = boot == BMC_BOOT_NETWORK ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_PXE
					       : IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_HARD_DRIVE;
	int rc = 0;

	if (!rs)
		return -ENOMEM;
	if (fi.ipmi_cmd_set_system_boot_options_boot_flags(
		    ctx, IPMI_SYSTEM_BOOT_OPTIONS_PARAMETER_VALID_UNLOCKED,
		    efi ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_EFI
			: IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_PC_COMPATIBLE,
		    IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID_FOR_NEXT_BOOT, IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID,
		    0, 0, dev, 0, 0, IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_CONSOLE_REDIRECTION_DEFAULT, 0, 0, 0,
		    IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_FIRMWARE_BIOS_VERBOSITY_DEFAULT, 0, 0, 0, 0, rs) < 0)
		rc = ipmi_failure(ctx, "set boot device", why, whysz);
	fi.fiid_obj_destroy(rs);
	return rc;
}

/* What an action asks of the chassis, given its power state now: a cycle or reset of a
 * machine that is off powers it on (many BMCs refuse a cycle then); off of one that is off
 * does nothing. -ENODATA: nothing to send. */
static int chassis_control_for(enum bmc_action action, bool on)
{
	switch (action) {
	case BMC_ON: return on ? -ENODATA : IPMI_CHASSIS_CONTROL_POWER_UP;
	case BMC_OFF: return on ? IPMI_CHASSIS_CONTROL_POWER_DOWN : -ENODATA;
	case BMC_SOFT_OFF: return on ? IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN : -ENODATA;
	case BMC_CYCLE: return on ? IPMI_CHASSIS_CONTROL_POWER_CYCLE : IPMI_CHASSIS_CONTROL_POWER_UP;
	case BMC_RESET: return on ? IPMI_CHASSIS_CONTROL_HARD_RESET : IPMI_CHASSIS_CONTROL_POWER_UP;
	default: return -ENODATA;
	}
}

/* The action on an open session; *on is the power state read last. */
static int ipmi_act(ipmi_ctx_t ctx, const struct bmc_call *call, bool *on, char *why, size_t whysz)
{
	int rc, control;

	if ((rc = ipmi_power_get(ctx, on, why, whysz)) < 0)
		return rc;
	if (call->boot != BMC_BOOT_NONE && (rc = ipmi_boot_set(ctx, call->boot, call->efi, why, whysz)) < 0)
		return rc;
	if ((control = chassis_control_for(call->action, *on)) < 0)
		return 0;
	if ((rc = ipmi_chassis(ctx, (uint8_t)control, why, whysz)) < 0)
		return rc;
	return ipmi_power_get(ctx, on, why, whysz);
}

int bmc_ipmi_call(const struct bmc_call *call, bool *on, char *why, size_t whysz)
{
	char host[300];
	ipmi_ctx_t ctx;
	unsigned timeout = call->timeout_ms ? call->timeout_ms : 10000;
	int rc;

	*why = '\0';
	if (pthread_once(&fi_once, freeipmi_load) != 0 || fi_error[0]) {
		snprintf(why, whysz, "%s", fi_error[0] ? fi_error : "IPMI: cannot load libfreeipmi");
		return -ENOSYS; /* logged once, by freeipmi_load */
	}
	ctx = fi.ipmi_ctx_create();
	if (!ctx)
		return (snprintf(why, whysz, "out of memory"), -ENOMEM);
	/* libfreeipmi takes the port as HOST:PORT ([V6]:PORT for IPv6). */
	snprintf(host, sizeof(host), strchr(call->address, ':') ? "[%s]:%u" : "%s:%u", call->address,
		 call->port ? call->port : 623);
	if (fi.ipmi_ctx_open_outofband_2_0(ctx, host, call->username, call->password, NULL, 0,
					IPMI_PRIVILEGE_LEVEL_ADMIN, 3, timeout, timeout / 5 ? timeout / 5 : 1,
					IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE, 0) < 0) {
		rc = ipmi_failure(ctx, "session", why, whysz);
	} else {
		rc = ipmi_act(ctx, call, on, why, whysz);
		fi.ipmi_ctx_close(ctx);
	}
	fi.ipmi_ctx_destroy(ctx);
	return rc;
}
