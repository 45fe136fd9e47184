/* LLDP (IEEE 802.1AB): what the switch at the other end of a NIC's cable says about itself.
 * lldp_parse reads one LLDPDU — the bytes after the Ethernet header's EtherType 0x88cc — into
 * a struct lldp_neighbor; lldp_json turns that into the NIC's "lldp" object. The frame comes
 * from the network, so every length is checked against the bytes that are there: nothing
 * is read outside pdu[0..len), whatever the frame holds. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "inventory_internal.h"

enum {
	TLV_END = 0, TLV_CHASSIS_ID = 1, TLV_PORT_ID = 2, TLV_TTL = 3, TLV_PORT_DESCRIPTION = 4,
	TLV_SYSTEM_NAME = 5, TLV_SYSTEM_DESCRIPTION = 6, TLV_MGMT_ADDRESS = 8, TLV_ORG = 127,
};

/* Chassis ID subtype 4 and port ID subtype 3: a MAC address; chassis 5 and port 4: a network
 * address (IANA family byte, then the address). Every other subtype is text of some kind. */
#define CHASSIS_MAC 4
#define CHASSIS_ADDRESS 5
#define PORT_MAC 3
#define PORT_ADDRESS 4
#define PORT_CIRCUIT_ID 6 /* agent circuit ID (RFC 3046): binary by nature */

#define IANA_IPV4 1
#define IANA_IPV6 2

static const uint8_t OUI_IEEE_8021[3] = { 0x00, 0x80, 0xc2 };
#define IEEE_8021_PORT_VLAN 1

/* Bytes as lower-case hex pairs joined by ':' ("aa:bb:cc"). out holds LLDP_TEXT_MAX. */
static void format_hex(const uint8_t *b, size_t n, char *out)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o + 4 <= LLDP_TEXT_MAX; i++)
		o += (size_t)snprintf(out + o, LLDP_TEXT_MAX - o, "%s%02x", i ? ":" : "", b[i]);
}

/* An IANA address-family-prefixed address: IPv4 and IPv6 as they print, anything else (or
 * a length that does not fit the family) as hex. */
static void format_address(const uint8_t *b, size_t n, char *out)
{
	if (n == 5 && b[0] == IANA_IPV4)
		inet_ntop(AF_INET, b + 1, out, LLDP_TEXT_MAX);
	else if (n == 17 && b[0] == IANA_IPV6)
		inet_ntop(AF_INET6, b + 1, out, LLDP_TEXT_MAX);
	else
		format_hex(b, n, out);
}

/* Text a switch sends: kept when every byte is printable ASCII or part of UTF-8 (bytes >=
 * 0x80, which json_text checks); with control characters or NULs it is not text, and
 * becomes hex. */
static void format_text(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] < 0x20 || b[i] == 0x7f) {
			format_hex(b, n, out);
			return;
		}
	memcpy(out, b, n);
	out[n] = '\0';
}

/* A chassis or port ID: subtype byte, then 1-255 bytes formatted by the subtype. */
static int parse_id(const uint8_t *v, size_t n, unsigned mac, unsigned address, char *out,
		    unsigned *subtype)
{
	if (n < 2 || n > 256)
		return -EBADMSG;
	*subtype = v[0];
	if (v[0] == address)
		format_address(v + 1, n - 1, out);
	else if (v[0] == mac || (v[0] == PORT_CIRCUIT_ID && address == PORT_ADDRESS))
		format_hex(v + 1, n - 1, out);
	else
		format_text(v + 1, n - 1, out);
	return 0;
}

/* Management address (8): address string length (subtype + address, 2-32), the address,
 * interface numbering subtype and number (5 bytes), OID length and OID. The first IPv4 or
 * IPv6 address is kept; others (a MAC, an unknown family) are skipped. */
static int parse_mgmt_address(const uint8_t *v, size_t n, struct lldp_neighbor *out)
{
	size_t alen, oid;

	if (n < 9)
		return -EBADMSG;
	alen = v[0];
	if (alen < 2 || alen > 32 || 1 + alen + 5 + 1 > n)
		return -EBADMSG;
	oid = v[1 + alen + 5];
	if (oid > 128 || 1 + alen + 5 + 1 + oid != n)
		return -EBADMSG;
	if (!out->mgmt_address[0] && ((v[1] == IANA_IPV4 && alen == 5) || (v[1] == IANA_IPV6 && alen == 17)))
		format_address(v + 1, alen, out->mgmt_address);
	return 0;
}

/* Organizationally specific (127): OUI, subtype, information. Of these only IEEE 802.1's
 * Port VLAN ID (the untagged VLAN of the switch port) is read; 0 means "not known" and
 * 4095 is reserved, so only 1-4094 count. */
static int parse_org(const uint8_t *v, size_t n, struct lldp_neighbor *out)
{
	unsigned vid;

	if (n < 4)
		return -EBADMSG;
	if (memcmp(v, OUI_IEEE_8021, 3) != 0 || v[3] != IEEE_8021_PORT_VLAN)
		return 0;
	if (n != 6)
		return -EBADMSG;
	vid = (unsigned)v[4] << 8 | v[5];
	if (!out->vlan && vid >= 1 && vid <= 4094)
		out->vlan = vid;
	return 0;
}

/* Port description, system name, system description: 0-255 bytes of text; the first of
 * each kind counts. */
static int parse_string(const uint8_t *v, size_t n, char *out)
{
	if (n > 255)
		return -EBADMSG;
	if (!out[0])
		format_text(v, n, out);
	return 0;
}

int lldp_parse(const uint8_t *pdu, size_t len, struct lldp_neighbor *out)
{
	size_t pos = 0;
	unsigned index = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	while (rc == 0) {
		unsigned type, tlv_len;
		const uint8_t *v;

		if (len - pos < 2) {
			/* The End TLV is required, but a frame cut right after a whole TLV has lost
			 * nothing we read; one cut inside a TLV header has. */
			if (pos == len && index >= 3)
				return 0;
			return -EBADMSG;
		}
		type = pdu[pos] >> 1;
		tlv_len = (unsigned)(pdu[pos] & 1) << 8 | pdu[pos + 1];
		pos += 2;
		if (tlv_len > len - pos)
			return -EBADMSG;
		v = pdu + pos;
		pos += tlv_len;
		/* Chassis ID, Port ID and TTL come first, in this order, once each. */
		if (index < 3 && type != index + 1)
			return -EBADMSG;
		index++;
		switch (type) {
		case TLV_END:
			return tlv_len == 0 ? 0 : -EBADMSG;
		case TLV_CHASSIS_ID:
		case TLV_PORT_ID:
		case TLV_TTL:
			if (index > 3)
				return -EBADMSG;
			if (type == TLV_CHASSIS_ID)
				rc = parse_id(v, tlv_len, CHASSIS_MAC, CHASSIS_ADDRESS, out->chassis_id,
					      &out->chassis_id_subtype);
			else if (type == TLV_PORT_ID)
				rc = parse_id(v, tlv_len, PORT_MAC, PORT_ADDRESS, out->port_id,
					      &out->port_id_subtype);
			else if (tlv_len != 2)
				rc = -EBADMSG;
			else
				out->ttl = (unsigned)v[0] << 8 | v[1];
			break;
		case TLV_PORT_DESCRIPTION:
			rc = parse_string(v, tlv_len, out->port_description);
			break;
		case TLV_SYSTEM_NAME:
			rc = parse_string(v, tlv_len, out->system_name);
			break;
		case TLV_SYSTEM_DESCRIPTION:
			rc = parse_string(v, tlv_len, out->system_description);
			break;
		case TLV_MGMT_ADDRESS:
			rc = parse_mgmt_address(v, tlv_len, out);
			break;
		case TLV_ORG:
			rc = parse_org(v, tlv_len, out);
			break;
		default: /* capabilities and TLVs of later revisions: not needed here */
			break;
		}
	}
	return rc;
}

json_t *lldp_json(const struct lldp_neighbor *n)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (json_object_set_new(o, "chassis_id", json_text(n->chassis_id)) < 0 ||
	    json_object_set_new(o, "switch", json_text(n->system_name)) < 0 ||
	    json_object_set_new(o, "port", json_text(n->port_id)) < 0 ||
	    json_object_set_new(o, "port_description", json_text(n->port_description)) < 0 ||
	    json_object_set_new(o, "vlan", n->vlan ? json_integer(n->vlan) : json_null()) < 0 ||
	    json_object_set_new(o, "mgmt_address", json_text(n->mgmt_address)) < 0 ||
	    json_object_set_new(o, "switch_description", json_text(n->system_description)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
