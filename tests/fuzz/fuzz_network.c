/* libFuzzer: the agent's reading of anemos.net (network.c), the network kexec.sh carried over
 * from the old system's command line, and its rendering into the installed system's files.
 * Input: any bytes, cut at the first NUL into the SPEC and the MAC. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "install.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum net_format formats[] = { NET_ANEMOS, NET_NETWORKD, NET_NOCLOUD, NET_IFUPDOWN };
	char *text = malloc(size + 2);
	json_t *net;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = text[size + 1] = '\0';
	net = network_from_boot_arg(text, text + strlen(text) + (strlen(text) < size ? 1 : 0));
	for (size_t i = 0; net && i < sizeof(formats) / sizeof(formats[0]); i++)
		free(network_render(net, formats[i]));
	json_decref(net);
	free(text);
	return 0;
}
