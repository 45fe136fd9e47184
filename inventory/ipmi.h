/*
 * In-band IPMI: the machine's own BMC through the kernel's IPMI driver (/dev/ipmi0, made by
 * ipmi_msghandler + ipmi_si + ipmi_devintf), for anemos-inventory (the BMC's LAN settings)
 * and anemos-agent (anemosd's --bmc-enroll: an Anemos user on the BMC). The requests are
 * built and the answers read by pure functions (tested on bytes in tests/unit); ipmi_cmd is
 * the only code that touches the device. Field layouts are those of the IPMI 2.0
 * specification (Get LAN Configuration Parameters 23.2, the user commands 22.26-22.30).
 */
#ifndef ANEMOS_IPMI_H
#define ANEMOS_IPMI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPMI_NETFN_APP       0x06
#define IPMI_NETFN_TRANSPORT 0x0c

#define IPMI_CMD_GET_CHANNEL_INFO     0x42
#define IPMI_CMD_SET_USER_ACCESS      0x43
#define IPMI_CMD_GET_USER_ACCESS      0x44
#define IPMI_CMD_SET_USER_NAME        0x45
#define IPMI_CMD_GET_USER_NAME        0x46
#define IPMI_CMD_SET_USER_PASSWORD    0x47
#define IPMI_CMD_GET_LAN_CONFIG       0x02

/* LAN configuration parameters (IPMI 2.0 table 23-4). */
#define IPMI_LAN_IP        3
#define IPMI_LAN_IP_SOURCE 4
#define IPMI_LAN_MAC       5
#define IPMI_LAN_NETMASK   6
#define IPMI_LAN_GATEWAY   12

/* Set User Password operations. */
#define IPMI_PW_DISABLE 0
#define IPMI_PW_ENABLE  1
#define IPMI_PW_SET     2
#define IPMI_PW_TEST    3

#define IPMI_PRIV_OPERATOR 3
#define IPMI_PRIV_ADMIN    4

#define IPMI_USER_NAME_MAX 16
#define IPMI_PASSWORD_MAX  20
#define IPMI_CHANNEL_LAN_MEDIUM 0x04 /* 802.3 LAN, Get Channel Info's medium type */

/* The BMC's LAN settings as Get LAN Configuration Parameters tells them; "" (ip_source NULL)
 * for what it did not say. */
struct ipmi_lan {
	char ip[16], netmask[16], gateway[16];
	char mac[18];
	const char *ip_source; /* "static", "dhcp", "bios" or "other" */
};

/* One answer of Get User Access. */
struct ipmi_user_access {
	unsigned max_users; /* user IDs the BMC has, 1..63 */
	unsigned enabled;   /* how many are enabled */
	unsigned fixed;     /* how many of the first IDs have fixed names */
	unsigned privilege; /* this user's privilege limit on the channel (0xF: no access) */
};

/* The answer bytes after the completion code are `rsp`, `len` of them. Each parser returns
 * 0, or -EIO when the answer is too short or makes no sense (the output then untouched or
 * partly set); none sets a message. */

/* Fills the member of lan that parameter param (IPMI_LAN_*) is: rsp is [revision, data...]. */
int ipmi_lan_parse(unsigned param, const uint8_t *rsp, size_t len, struct ipmi_lan *lan);
/* The medium type of a Get Channel Info answer (bits 6:0 of its second byte), -EIO if short. */
int ipmi_channel_medium(const uint8_t *rsp, size_t len);
int ipmi_user_access_parse(const uint8_t *rsp, size_t len, struct ipmi_user_access *out);
/* A Get User Name answer (16 bytes, NUL padded) as a string in out; "" for an empty slot.
 * -EIO also for a name with bytes that are not printable ASCII. */
int ipmi_user_name_parse(const uint8_t *rsp, size_t len, char out[IPMI_USER_NAME_MAX + 1]);

/* Request bodies: each writes into out and returns its length, or -EINVAL (no message) when
 * the values do not fit the command (a name longer than 16 bytes, a password longer than 20, a user ID 0 or
 * above 63). */
int ipmi_set_user_name_req(unsigned user, const char *name, uint8_t out[1 + IPMI_USER_NAME_MAX]);
/* A password of up to 16 bytes is sent in the 16-byte form, a longer one in the 20-byte form
 * (bit 7 of the user ID byte); NULL for operations that carry none (enable, disable). */
int ipmi_set_password_req(unsigned user, unsigned op, const char *password, uint8_t out[2 + IPMI_PASSWORD_MAX]);
/* Set User Access for user on channel: IPMI messaging and link authentication on, no
 * callback-only restriction, privilege limit priv, no session limit. */
int ipmi_set_user_access_req(unsigned channel, unsigned user, unsigned priv, uint8_t out[4]);

/* The user ID an enroll takes, from the names of IDs 1..n (names[i] is ID i + 1): the ID
 * already named `name` (enrolled before: its password is set again), else the first empty
 * one from ID 3 up (1 is the anonymous user, 2 usually the vendor's administrator), else
 * the first empty one at all (2 included); skipping the first `fixed` IDs, whose names the
 * BMC does not let anyone change. 0 when none is free. */
unsigned ipmi_pick_user(const char (*names)[IPMI_USER_NAME_MAX + 1], unsigned n, unsigned fixed, const char *name);

/* What a completion code means, for messages ("insufficient privilege level", "0xC1"...):
 * a static string, or buf holding the code. */
const char *ipmi_cc_text(uint8_t cc, char *buf, size_t bufsz);

/* The device. */
struct ipmi_dev {
	int fd;
	long seq;
	unsigned timeout_ms; /* per request, 5000 when 0 */
};
/* Opens root's /dev/ipmi0 (or /dev/ipmi/0, /dev/ipmidev/0): 0 or -errno. */
int ipmi_open(const char *root, struct ipmi_dev *d);
void ipmi_close(struct ipmi_dev *d);
/* One request to the BMC (LUN 0 of the system interface) and its answer: the completion code
 * in *cc and what follows it in rsp (at most rspsz bytes); returns the number of those bytes,
 * or -errno (-ETIMEDOUT when no answer came in d->timeout_ms). */
int ipmi_cmd(struct ipmi_dev *d, uint8_t netfn, uint8_t cmd, const uint8_t *data, size_t len,
	     uint8_t *cc, uint8_t *rsp, size_t rspsz);

/* The LAN channel: the first of channels 1..11 whose medium is 802.3 LAN; 0 when none says
 * so (or the BMC does not answer Get Channel Info). */
unsigned ipmi_lan_channel(struct ipmi_dev *d);
/* Reads the LAN settings of channel: 0 when at least the IP address was read, else -errno
 * with the message (err_set) naming the parameter. */
int ipmi_lan_read(struct ipmi_dev *d, unsigned channel, struct ipmi_lan *lan);

/* What an enroll did. */
struct ipmi_enroll_result {
	unsigned channel, user;
};
/* Creates (or takes again) the user `name` on the BMC with `password` and privilege priv on
 * channel: Get User Access and Get User Name to find its ID (ipmi_pick_user), Set User
 * Name, Set User Password (set, then enable, then test: the BMC must accept the password it
 * was given), Set User Access. 0, or -errno with the message (err_set: which step, the
 * BMC's completion code; never the password). */
int ipmi_enroll(struct ipmi_dev *d, unsigned channel, const char *name, const char *password, unsigned priv,
		struct ipmi_enroll_result *out);

#endif
