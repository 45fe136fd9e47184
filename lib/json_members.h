/* lib/json_members.h: a JSON object's top-level members found without building them.
 *
 * A registration's 11 KB inventory took jansson about as long to parse as everything else
 * anemosd does for it, and most of its bytes (the PCI devices) are never read by the server:
 * they are stored and shown. json_members checks a whole text with the rules jansson applies
 * (RFC 8259: UTF-8, strings without control characters, valid escapes, no duplicate keys in
 * an object) in one pass that allocates nothing, and gives the top-level members' spans, so
 * that a caller can have jansson build only the members it reads and keep the others as the
 * text they came as.
 *
 * It is an accelerator, never a judge: it says yes only where jansson would accept the text
 * as it stands, and "cannot tell" for anything unusual (an escaped key, an object of more
 * than JSON_MEMBERS_KEYS keys, a number that could overflow, \u0000, nesting deeper than
 * JSON_MEMBERS_DEPTH, a top that is not an object), which the caller then hands to jansson
 * whole, for jansson's own answer or error message.
 */
#ifndef ANEMOS_JSON_MEMBERS_H
#define ANEMOS_JSON_MEMBERS_H

#include <stddef.h>

#define JSON_MEMBERS_DEPTH 64   /* deeper: cannot tell */
#define JSON_MEMBERS_KEYS 64    /* keys in one object; more: cannot tell */

/* One member of the top-level object: offsets into the text. key..key_len is the key
 * without its quotes (no escapes in it), value..value_len the value's whole text. */
struct json_member {
	size_t key, key_len;
	size_t value, value_len;
};

/* Checks text (len bytes, no terminator needed) and, when it is a JSON object that jansson
 * would accept with JSON_REJECT_DUPLICATES, stores its members in order into m (room for
 * max; more members: cannot tell) and their number in *n. Returns 1 when so, 0 when it
 * cannot tell or the text is not valid (the caller parses it with jansson instead). */
int json_members(const char *text, size_t len, struct json_member *m, size_t max, size_t *n);

#endif
