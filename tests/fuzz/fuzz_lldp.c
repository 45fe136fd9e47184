/* libFuzzer: the LLDP parser of anemos-agent's switch-port discovery (inventory/lldp.c), any
 * bytes taken as the LLDPDU a switch sent. Besides crashes, reads past the frame and undefined
 * behaviour: an accepted frame has its three mandatory IDs, every text field ends inside its
 * buffer, the VLAN is 0-4094, and the NIC's "lldp" object renders as JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"
#include "support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lldp_neighbor n;
	const char *fields[] = { n.chassis_id, n.port_id, n.port_description, n.system_name,
				 n.system_description, n.mgmt_address };
	char *dumped;
	json_t *j;
	int rc = lldp_parse(data, size, &n);

	if (rc == -EBADMSG)
		return 0;
	if (rc != 0)
		fuzz_fail("lldp_parse returned %d, neither 0 nor -EBADMSG", rc);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!memchr(fields[i], '\0', LLDP_TEXT_MAX))
			fuzz_fail("text field %zu does not end inside its buffer", i);
	if (!n.chassis_id[0] || !n.port_id[0])
		fuzz_fail("an accepted frame without a chassis or port ID");
	if (n.vlan > 4094)
		fuzz_fail("VLAN %u out of range", n.vlan);
	if (!(j = lldp_json(&n)))
		fuzz_fail("the neighbour does not become a JSON object");
	if (!(dumped = json_dumps(j, JSON_COMPACT)))
		fuzz_fail("the neighbour's JSON does not render");
	free(dumped);
	json_decref(j);
	return 0;
}
