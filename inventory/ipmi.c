/*
 * In-band IPMI (see ipmi.h): pure builders and readers of the few commands Anemos sends, and
 * the kernel's /dev/ipmi0 ioctls (IPMICTL_SEND_COMMAND, IPMICTL_RECEIVE_MSG_TRUNC) to send
 * them. A small reader of our own rather than ipmitool or FreeIPMI's tools in the
 * initramfs: five commands, no child process (the enroll's password is on no command line,
 * in no environment), a bound on every wait, and a few KiB instead of a program and its
 * libraries.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/ipmi.h>

#include "errors.h"
#include "ipmi.h"

static void ipv4_text(const uint8_t *b, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

int ipmi_lan_parse(unsigned param, const uint8_t *rsp, size_t len, struct ipmi_lan *lan)
{
	const uint8_t *d = rsp + 1; /* past the parameter revision */

	switch (param) {
	case IPMI_LAN_IP:
	case IPMI_LAN_NETMASK:
	case IPMI_LAN_GATEWAY:
		if (len < 5)
			return -EIO;
		ipv4_text(d, param == IPMI_LAN_IP ? lan->ip : param == IPMI_LAN_NETMASK ? lan->netmask : lan->gateway);
		return 0;
	case IPMI_LAN_MAC:
		if (len < 7)
			return -EIO;
		snprintf(lan->mac, sizeof(lan->mac), "%02x:%02x:%02x:%02x:%02x:%02x", d[0], d[1], d[2], d[3],
			 d[4], d[5]);
		return 0;
	case IPMI_LAN_IP_SOURCE:
		if (len < 2)
			return -EIO;
		switch (d[0] & 0x0f) {
		case 1: lan->ip_source = "static"; break;
		case 2: lan->ip_source = "dhcp"; break;
		case 3: lan->ip_source = "bios"; break;
		case 4: lan->ip_source = "other"; break;
		default: lan->ip_source = NULL; break; /* 0: unspecified */
		}
		return 0;
	default:
		return -EIO;
	}
}

int ipmi_channel_medium(const uint8_t *rsp, size_t len)
{
	return len < 2 ? -EIO : rsp[1] & 0x7f;
}

int ipmi_user_access_parse(const uint8_t *rsp, size_t len, struct ipmi_user_access *out)
{
	if (len < 4 || (rsp[0] & 0x3f) == 0)
		return -EIO;
	out->max_users = rsp[0] & 0x3f;
	out->enabled = rsp[1] & 0x3f;
	out->fixed = rsp[2] & 0x3f;
	out->privilege = rsp[3] & 0x0f;
	return 0;
}

int ipmi_user_name_parse(const uint8_t *rsp, size_t len, char out[IPMI_USER_NAME_MAX + 1])
{
	size_t n;

	if (len < IPMI_USER_NAME_MAX)
		return -EIO;
	for (n = 0; n < IPMI_USER_NAME_MAX && rsp[n]; n++)
		if (rsp[n] < 0x20 || rsp[n] > 0x7e)
			return -EIO;
	memcpy(out, rsp, n);
	out[n] = '\0';
	return 0;
}

int ipmi_set_user_name_req(unsigned user, const char *name, uint8_t out[1 + IPMI_USER_NAME_MAX])
{
	size_t n = strlen(name);

	if (user < 1 || user > 63 || n == 0 || n > IPMI_USER_NAME_MAX)
		return -EINVAL;
	memset(out, 0, 1 + IPMI_USER_NAME_MAX);
	out[0] = (uint8_t)user;
	memcpy(out + 1, name, n);
	return 1 + IPMI_USER_NAME_MAX;
}

int ipmi_set_password_req(unsigned user, unsigned op, const char *password, uint8_t out[2 + IPMI_PASSWORD_MAX])
{
	size_t n = password ? strlen(password) : 0;
	bool wide = n > 16;

	if (user < 1 || user > 63 || op > IPMI_PW_TEST || n > IPMI_PASSWORD_MAX ||
	    ((op == IPMI_PW_SET || op == IPMI_PW_TEST) && !password))
		return -EINVAL;
	memset(out, 0, 2 + IPMI_PASSWORD_MAX);
	out[0] = (uint8_t)(user | (wide ? 0x80 : 0));
	out[1] = (uint8_t)op;
	if (!password)
		return 2;
	memcpy(out + 2, password, n);
	return 2 + (wide ? 20 : 16);
}

int ipmi_set_user_access_req(unsigned channel, unsigned user, unsigned priv, uint8_t out[4])
{
	if (channel > 15 || user < 1 || user > 63 || priv < 1 || (priv > 5 && priv != 0x0f))
		return -EINVAL;
	/* bit 7: change the bits below; 5: link authentication; 4: IPMI messaging */
	out[0] = (uint8_t)(0x80 | 0x20 | 0x10 | channel);
	out[1] = (uint8_t)user;
	out[2] = (uint8_t)priv;
	out[3] = 0; /* no session limit of the user's own */
	return 4;
}

unsigned ipmi_pick_user(const char (*names)[IPMI_USER_NAME_MAX + 1], unsigned n, unsigned fixed, const char *name)
{
	for (unsigned id = 2; id <= n; id++)
		if (id > fixed && strcmp(names[id - 1], name) == 0)
			return id;
	for (unsigned id = 3; id <= n; id++)
		if (id > fixed && !names[id - 1][0])
			return id;
	if (n >= 2 && fixed < 2 && !names[1][0])
		return 2;
	return 0;
}

const char *ipmi_cc_text(uint8_t cc, char *buf, size_t bufsz)
{
	switch (cc) {
	case 0x00: return "success";
	case 0x80: return "rejected (0x80: for Set User Password test, the password does not match)";
	case 0xc0: return "node busy (0xC0)";
	case 0xc1: return "command not supported (0xC1)";
	case 0xc3: return "timeout (0xC3)";
	case 0xc7: return "request data length invalid (0xC7)";
	case 0xc9: return "parameter out of range (0xC9)";
	case 0xcc: return "invalid data field in request (0xCC)";
	case 0xcd: return "command illegal for this sensor or record type (0xCD)";
	case 0xd4: return "insufficient privilege level (0xD4)";
	case 0xd5: return "command not supported in present state (0xD5)";
	case 0xd6: return "command disabled (0xD6)";
	default:
		snprintf(buf, bufsz, "completion code 0x%02X", cc);
		return buf;
	}
}

int ipmi_open(const char *root, struct ipmi_dev *d)
{
	static const char *const names[] = { "dev/ipmi0", "dev/ipmi/0", "dev/ipmidev/0" };
	char path[512];
	int rc = -ENOENT;

	d->fd = -1;
	d->seq = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s%s%s", root, root[0] && root[strlen(root) - 1] == '/' ? "" : "/",
			 names[i]);
		if ((d->fd = open(path, O_RDWR | O_CLOEXEC)) >= 0)
			return 0;
		if (errno != ENOENT)
			rc = -errno;
	}
	return rc;
}

void ipmi_close(struct ipmi_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

int ipmi_cmd(struct ipmi_dev *d, uint8_t netfn, uint8_t cmd, const uint8_t *data, size_t len,
	     uint8_t *cc, uint8_t *rsp, size_t rspsz)
{
	struct ipmi_system_interface_addr bmc = { .addr_type = IPMI_SYSTEM_INTERFACE_ADDR_TYPE,
						  .channel = IPMI_BMC_CHANNEL, .lun = 0 };
	struct ipmi_req req = { .addr = (unsigned char *)&bmc, .addr_len = sizeof(bmc), .msgid = ++d->seq };
	uint8_t sent[64], answer[IPMI_MAX_MSG_LENGTH];
	long timeout = d->timeout_ms ? d->timeout_ms : 5000;
	struct timespec t0;

	if (len > sizeof(sent))
		return -EINVAL;
	memcpy(sent, data, len);
	req.msg.netfn = netfn;
	req.msg.cmd = cmd;
	req.msg.data = sent;
	req.msg.data_len = (unsigned short)len;
	if (ioctl(d->fd, IPMICTL_SEND_COMMAND, &req) < 0)
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct ipmi_addr from;
		struct ipmi_recv recv = { .addr = (unsigned char *)&from, .addr_len = sizeof(from) };
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		long left = timeout - ms_since(&t0);
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		if ((n = poll(&p, 1, (int)left)) < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		recv.msg.data = answer;
		recv.msg.data_len = sizeof(answer);
		if (ioctl(d->fd, IPMICTL_RECEIVE_MSG_TRUNC, &recv) < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == EMSGSIZE)
				continue;
			return -errno;
		}
		/* an older request's late answer, or an event: not ours */
		if (recv.recv_type != IPMI_RESPONSE_RECV_TYPE || recv.msgid != req.msgid)
			continue;
		if (recv.msg.data_len < 1)
			return -EIO;
		*cc = answer[0];
		n = recv.msg.data_len - 1;
		if ((size_t)n > rspsz)
			n = (int)rspsz;
		memcpy(rsp, answer + 1, (size_t)n);
		return n;
	}
}

unsigned ipmi_lan_channel(struct ipmi_dev *d)
{
	for (unsigned ch = 1; ch <= 11; ch++) {
		uint8_t req = (uint8_t)ch, rsp[16], cc;
		int n = ipmi_cmd(d, IPMI_NETFN_APP, IPMI_CMD_GET_CHANNEL_INFO, &req, 1, &cc, rsp, sizeof(rsp));

		if (n == -ETIMEDOUT)
			return 0;
		if (n >= 0 && cc == 0 && ipmi_channel_medium(rsp, (size_t)n) == IPMI_CHANNEL_LAN_MEDIUM)
			return ch;
	}
	return 0;
}

int ipmi_lan_read(struct ipmi_dev *d, unsigned channel, struct ipmi_lan *lan)
{
	static const unsigned params[] = { IPMI_LAN_IP, IPMI_LAN_IP_SOURCE, IPMI_LAN_MAC, IPMI_LAN_NETMASK,
					   IPMI_LAN_GATEWAY };
	char ccbuf[32];

	memset(lan, 0, sizeof(*lan));
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		uint8_t req[4] = { (uint8_t)(channel & 0x0f), (uint8_t)params[i], 0, 0 }, rsp[32], cc;
		int n = ipmi_cmd(d, IPMI_NETFN_TRANSPORT, IPMI_CMD_GET_LAN_CONFIG, req, sizeof(req), &cc, rsp,
				 sizeof(rsp));

		if (n < 0) {
			err_set(n, "Get LAN Configuration Parameters %u of channel %u: %s", params[i], channel,
				strerror(-n));
			if (params[i] == IPMI_LAN_IP)
				return n;
			continue;
		}
		if (cc != 0 || ipmi_lan_parse(params[i], rsp, (size_t)n, lan) < 0) {
			err_set(-EIO, "Get LAN Configuration Parameters %u of channel %u: %s", params[i], channel,
				cc ? ipmi_cc_text(cc, ccbuf, sizeof(ccbuf)) : "short answer");
			if (params[i] == IPMI_LAN_IP)
				return -EIO;
		}
	}
	return 0;
}

/* Sends one request of the enroll; 0, or -EIO/-errno with the message naming the step. */
static int step(struct ipmi_dev *d, uint8_t cmd, const char *what, const uint8_t *req, size_t len,
		uint8_t *rsp, size_t rspsz, int *got)
{
	char ccbuf[32];
	uint8_t cc, scratch[32];
	int n = ipmi_cmd(d, IPMI_NETFN_APP, cmd, req, len, &cc, rsp ? rsp : scratch, rsp ? rspsz : sizeof(scratch));

	if (n < 0)
		return err_set(n, "%s: %s", what, strerror(-n));
	if (cc != 0)
		return err_set(-EIO, "%s: the BMC answered %s", what, ipmi_cc_text(cc, ccbuf, sizeof(ccbuf)));
	if (got)
		*got = n;
	return 0;
}

int ipmi_enroll(struct ipmi_dev *d, unsigned channel, const char *name, const char *password, unsigned priv,
		struct ipmi_enroll_result *out)
{
	char names[63][IPMI_USER_NAME_MAX + 1];
	struct ipmi_user_access access;
	uint8_t req[2 + IPMI_PASSWORD_MAX], rsp[32], cc;
	unsigned user;
	int n, len, rc;

	memset(names, 0, sizeof(names));
	req[0] = (uint8_t)(channel & 0x0f);
	req[1] = 1;
	if ((rc = step(d, IPMI_CMD_GET_USER_ACCESS, "Get User Access", req, 2, rsp, sizeof(rsp), &n)) < 0)
		return rc;
	if (ipmi_user_access_parse(rsp, (size_t)n, &access) < 0)
		return err_set(-EIO, "Get User Access: an answer that makes no sense (%d bytes)", n);
	/* ID 1 is the anonymous user, never taken (many BMCs refuse to name it: 0xCC); an ID
	 * whose name cannot be read is not taken either */
	snprintf(names[0], sizeof(names[0]), "?");
	for (unsigned id = 2; id <= access.max_users; id++) {
		req[0] = (uint8_t)id;
		n = ipmi_cmd(d, IPMI_NETFN_APP, IPMI_CMD_GET_USER_NAME, req, 1, &cc, rsp, sizeof(rsp));
		if (n < 0)
			return err_set(n, "Get User Name of user %u: %s", id, strerror(-n));
		if (cc != 0 || ipmi_user_name_parse(rsp, (size_t)n, names[id - 1]) < 0)
			snprintf(names[id - 1], sizeof(names[id - 1]), "?");
	}
	if (!(user = ipmi_pick_user(names, access.max_users, access.fixed, name)))
		return err_set(-ENOSPC, "no free user slot on the BMC (%u users, all named)", access.max_users);
	if ((len = ipmi_set_user_name_req(user, name, req)) < 0)
		return err_set(-EINVAL, "the user name '%s' does not fit IPMI's 16 bytes", name);
	if (strcmp(names[user - 1], name) != 0 &&
	    (rc = step(d, IPMI_CMD_SET_USER_NAME, "Set User Name", req, (size_t)len, NULL, 0, NULL)) < 0)
		return rc;
	if ((len = ipmi_set_password_req(user, IPMI_PW_SET, password, req)) < 0)
		return err_set(-EINVAL, "the password does not fit IPMI's 20 bytes");
	if ((rc = step(d, IPMI_CMD_SET_USER_PASSWORD, "Set User Password", req, (size_t)len, NULL, 0, NULL)) < 0)
		goto out;
	len = ipmi_set_password_req(user, IPMI_PW_ENABLE, NULL, req);
	if ((rc = step(d, IPMI_CMD_SET_USER_PASSWORD, "Set User Password (enable the user)", req, (size_t)len, NULL,
		       0, NULL)) < 0)
		goto out;
	/* The BMC must take the password it was given: 0x80 (or 0x81, another size) says it
	 * does not; a BMC that does not know the test operation (older than IPMI 2.0) is
	 * trusted on its word. */
	len = ipmi_set_password_req(user, IPMI_PW_TEST, password, req);
	if ((n = ipmi_cmd(d, IPMI_NETFN_APP, IPMI_CMD_SET_USER_PASSWORD, req, (size_t)len, &cc, rsp, sizeof(rsp))) < 0) {
		rc = err_set(n, "Set User Password (test the password): %s", strerror(-n));
		goto out;
	}
	if (cc == 0x80 || cc == 0x81) {
		rc = err_set(-EIO, "Set User Password (test the password): the BMC says the password it was just "
			     "given is not user %u's (0x%02X)", user, cc);
		goto out;
	}
	len = ipmi_set_user_access_req(channel, user, priv, req);
	if (len < 0) {
		rc = err_set(-EINVAL, "channel %u or privilege %u out of range", channel, priv);
		goto out;
	}
	if ((rc = step(d, IPMI_CMD_SET_USER_ACCESS, "Set User Access", req, (size_t)len, NULL, 0, NULL)) < 0)
		goto out;
	out->channel = channel;
	out->user = user;
out:
	explicit_bzero(req, sizeof(req));
	return rc;
}
