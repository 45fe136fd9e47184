/* anemos-inventory [--root DIR] [--pretty] [--lldp SECONDS]: prints the machine's hardware
 * inventory as one JSON object on stdout (compact unless --pretty). Runs as any user: what it
 * may not read stays null (the switch ports of --lldp need root). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inventory.h"
#include "log.h"

static void usage(FILE *out)
{
	fputs("usage: anemos-inventory [--root DIR] [--pretty] [--lldp SECONDS]\n"
	      "  --root DIR      read sys/, proc/ and dev/ under DIR instead of / (default /)\n"
	      "  --pretty        indent the JSON\n"
	      "  --lldp SECONDS  listen up to SECONDS (1-120) for LLDP on every NIC: the switch\n"
	      "                  ports (root only; default: not)\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "lldp", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = "/";
	size_t flags = JSON_COMPACT;
	struct stat st;
	json_t *inventory;
	char *text, *end;
	long lldp = 0;
	int opt, heard, rc;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'r':
			root = optarg;
			break;
		case 'p':
			flags = JSON_INDENT(2);
			break;
		case 'l':
			lldp = strtol(optarg, &end, 10);
			if (*end || lldp < 1 || lldp > 120) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
		log_fatal("--root %s: not a directory", root);
	if (!(inventory = inventory_collect(root)))
		log_fatal("out of memory collecting the inventory");
	if (lldp && (rc = lldp_collect(inventory, lldp, &heard)) < 0)
		log_fatal("--lldp: %s", strerror(-rc));
	if (!(text = json_dumps(inventory, flags)))
		log_fatal("out of memory printing the inventory");
	json_decref(inventory);
	if (puts(text) == EOF || fflush(stdout) == EOF)
		log_fatal("writing the inventory to stdout failed");
	free(text);
	return 0;
}
