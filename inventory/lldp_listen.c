/* Listening for the switches' LLDP frames on every NIC of an inventory, all at once: one
 * AF_PACKET socket per NIC bound to EtherType 0x88cc and joined to LLDP's multicast group
 * (01:80:c2:00:00:0e, which a NIC filtering multicast would otherwise drop), then poll() on
 * all of them until every NIC with link has heard a neighbour or the time is up.
 *
 * Switches send every 30 s by default (802.1AB's msgTxInterval), and many one at once when a
 * port's link comes up. Waiting the whole interval catches every LLDP-speaking switch, but
 * costs that long on a network where a NIC's link partner sends nothing; the caller chooses
 * (the agent: anemos.lldp=SECONDS). Needs CAP_NET_RAW; the NICs must be up. */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "inventory_internal.h"

#define LLDP_NICS_MAX 256 /* NICs listened on; anemosd takes no more per inventory */

static const uint8_t LLDP_MULTICAST[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };

/* A socket receiving LLDP frames on interface name; -errno. */
static int lldp_socket(const char *name)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_LLDP) };
	struct packet_mreq mr = { .mr_type = PACKET_MR_MULTICAST, .mr_alen = 6 };
	int fd, rc;

	if (!(sll.sll_ifindex = (int)if_nametoindex(name)))
		return -errno;
	if ((fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_LLDP))) < 0)
		return -errno;
	mr.mr_ifindex = sll.sll_ifindex;
	memcpy(mr.mr_address, LLDP_MULTICAST, sizeof(LLDP_MULTICAST));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what is waiting on fd; stores the first valid neighbour as nic's "lldp". Returns 1
 * when nic has its neighbour, 0 when not yet, -ENOMEM. */
static int lldp_receive(int fd, json_t *nic)
{
	uint8_t frame[1536];
	struct sockaddr_ll from;
	struct lldp_neighbor n;
	socklen_t fromlen;
	ssize_t got;
	json_t *o;

	for (;;) {
		fromlen = sizeof(from);
		got = recvfrom(fd, frame, sizeof(frame), 0, (struct sockaddr *)&from, &fromlen);
		if (got < 0)
			return 0;
		/* our own frames (none are sent here, but another program might), and shutdown
		 * LLDPDUs (TTL 0: forget me), say nothing about the switch port */
		if (from.sll_pkttype == PACKET_OUTGOING || lldp_parse(frame, (size_t)got, &n) < 0 || !n.ttl)
			continue;
		if (!(o = lldp_json(&n)) || json_object_set_new(nic, "lldp", o) < 0)
			return -ENOMEM;
		return 1;
	}
}

int lldp_collect(json_t *inventory, long seconds, int *heard)
{
	json_t *nics = json_object_get(inventory, "nics"), *nic;
	struct pollfd fds[LLDP_NICS_MAX];
	json_t *of[LLDP_NICS_MAX];
	size_t n = 0, i, waiting = 0;
	long long deadline = now_ms() + seconds * 1000;
	int rc = 0, err = 0;

	*heard = 0;
	json_array_foreach(nics, i, nic) {
		const char *name = json_string_value(json_object_get(nic, "name"));
		int fd;

		/* listened: null until a neighbour is heard (no "lldp" says nobody listened) */
		if (json_object_set_new(nic, "lldp", json_null()) < 0)
			return -ENOMEM;
		if (n == LLDP_NICS_MAX || !name)
			continue;
		if ((fd = lldp_socket(name)) < 0) {
			err = fd;
			continue;
		}
		fds[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
		of[n++] = nic;
		/* a NIC without link hears nothing: listen, but do not wait for it */
		if (json_is_true(json_object_get(nic, "link")))
			waiting++;
	}
	if (n == 0 && err)
		return err;
	while (rc == 0 && waiting > 0) {
		long long left = deadline - now_ms();
		int ready;

		if (left <= 0)
			break;
		if ((ready = poll(fds, n, (int)left)) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		for (i = 0; i < n && ready > 0; i++) {
			int r;

			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			if ((r = lldp_receive(fds[i].fd, of[i])) < 0) {
				rc = r;
				break;
			}
			if (r == 1) {
				close(fds[i].fd);
				fds[i].fd = -1;	/* poll() skips it */
				(*heard)++;
				if (json_is_true(json_object_get(of[i], "link")))
					waiting--;
			}
		}
	}
	for (i = 0; i < n; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	return rc;
}
