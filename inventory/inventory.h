/* The hardware inventory of a machine as JSON, in the shape of DESIGN.md's "Inventory JSON".
 * Used by anemos-inventory and anemos-agent. */
#ifndef ANEMOS_INVENTORY_H
#define ANEMOS_INVENTORY_H

#include <jansson.h>

/* Collects the inventory of the machine whose filesystem root is `root` ("/" normally; a
 * fixture folder in tests, holding sys/, proc/ and sys/firmware/dmi/tables/DMI). Returns a new
 * JSON object in the contract's shape; unknown values are JSON null, never invented. Never
 * fails for missing files: whatever cannot be read is null or left out of arrays. NULL only on
 * out-of-memory. */
json_t *inventory_collect(const char *root);

/* Listens for LLDP (lldp_listen.c) on every NIC of inventory's "nics", all at once, for up to
 * seconds, and sets each NIC's "lldp" to what its switch port says (see lldp_json), null
 * when it heard nothing; inventory_collect leaves "lldp" out (nobody listened), which
 * anemosd reads as "as before". Stops early once every NIC whose link is up has heard one.
 * *heard: the NICs that did. 0, or -errno when no NIC could be listened on (-EPERM without
 * CAP_NET_RAW) or on out-of-memory. */
int lldp_collect(json_t *inventory, long seconds, int *heard);

#endif
