/*
 * anemosctl: global options, the command table, usage, and the option parsing that every
 * command shares. A straight line: read switches and global options, find the command,
 * load the token, run the command, report.
 */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "anemosctl.h"
#include "lifecycle.h"

#define DEFAULT_URL	"http://127.0.0.1:8080"
#define EXIT_INTERRUPTED 130	/* 128 + SIGINT, as a shell reports a program Ctrl-C ended */
#define TOKEN_MAX	4096	/* longest token accepted from a file, in bytes */

/* The lists a command's help refers to, printed after it. */
enum help_note {
	NOTE_REF = 1,		/* what REF may be */
	NOTE_ACTION = 2,	/* the next-boot actions (lib/lifecycle.h) */
	NOTE_STATUS = 4,	/* the statuses an operator may set */
};

struct command {
	const char *noun;
	const char *verb;
	const char *summary;	/* what it is for, in one line of the command list */
	const char *args;	/* the synopsis after "anemosctl NOUN VERB" */
	const char *help;	/* what it does and its options, for COMMAND --help */
	unsigned notes;		/* enum help_note: the lists @help refers to */
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

/* Tags and attributes, an operator's words for a host that searches find. */
#define LABEL_HELP \
	"  --tag TAG              add a tag (repeat): letters, digits, _ . : -; found by tag:TAG\n" \
	"  --attr NAME=VALUE      set an attribute (repeat; NAME= removes it): rack=r12,\n" \
	"                         owner=team-storage, warranty_until=2027-03-01; found by\n" \
	"                         NAME=VALUE, and by NAME>=N when VALUE is a number or size\n"

/* The install settings of host add and host set, which anemosd hands the installer. */
#define INSTALL_HELP \
	"install settings (each option changes one; the others stay as they are):\n" \
	"  --disk serial=S|by_path=P|name=N   the disk to install onto: by its serial, its\n" \
	"                         /dev/disk/by-path name or its kernel name (sda, nvme0n1);\n" \
	"                         --no-disk: the largest non-removable disk (the default)\n" \
	"  --network dhcp|static  the installed system's network (default dhcp); static takes\n" \
	"    --address A.B.C.D/N  its address (or IPv6 ADDR/N), --gateway ADDR and --dns ADDR\n" \
	"                         (repeat for more, at most 8; the list replaces the host's:\n" \
	"                         a second --gateway of IPv6 for dual stack, fe80::1 is fine)\n" \
	"    --ipv6 auto|dhcp|off also take router advertisements (SLAAC, DHCPv6 where they\n" \
	"                         say), ask DHCPv6 without them (dhcp), or neither (off)\n" \
	"                         (dhcp with IPv6 --address, --gateway and --dns: DHCPv4 and\n" \
	"                         static IPv6 beside it; with --ipv6 dhcp, DHCPv6 beside it)\n" \
	"  --root-password-prompt ask for root's password on the terminal (twice, not shown)\n" \
	"                         and store only its SHA-512 crypt(3) hash\n" \
	"  --root-password-hash-file FILE   root's password as a crypt(3) hash read from FILE\n" \
	"                         (mkpasswd -m sha-512 makes one); --no-root-password: none\n" \
	"  --user-data FILE       cloud-init user-data for the installed system (at most 64 KiB);\n" \
	"                         --no-user-data removes it\n" \
	"  --kernel-args ARGS     kernel arguments of the installed system; --no-kernel-args\n" \
	"  --after reboot|poweroff|kexec   what the installer does when done (default reboot)\n" \
	"  --mirror URL           the Debian mirror a recipe image is built from on this host;\n" \
	"                         --no-mirror: the recipe's own\n" \
	"The password and user-data reach the host's first install plan only, never a command\n" \
	"line; `anemosctl host show REF` lists the settings.\n"

static const struct command commands[] = {
	{ "status", "", "the appliance's health, its hosts by status, the URLs machines use", "",
	  "Asks anemosd whether it answers (/healthz), counts its hosts by status and its images,\n"
	  "and prints the boot URL that iPXE chains to (point PXE at it with `anemosctl dnsmasq\n"
	  "config`) and the dashboard's URL.\n", 0, appliance_status },
	{ "host", "list", "the hosts: machines that network-booted, or were enrolled",
	  "[--columns LIST] [--csv] [--] [QUERY...]",
	  "Lists the hosts, one a line: id, hostname, status, next boot, image, MACs, serial,\n"
	  "product, last seen, power; with a QUERY, those it finds.\n"
	  "  --columns LIST         the columns, e.g. hostname,status,tag,rack,memory: id,\n"
	  "                         hostname, status, next_boot, image, macs, serial, vendor,\n"
	  "                         product, uuid, asset, last_seen, power, tag, memory, cpu,\n"
	  "                         firmware, drift; any other name is that attribute\n"
	  "  --csv                  CSV with a header line (for a spreadsheet or a script)\n"
	  "Quote a QUERY for the shell (one starting with - goes after --):\n"
	  "  anemosctl host list 'tag:db rack=r12 memory>=64G -tag:retired'\n"
	  "  anemosctl host list '(status:failed OR status:new) cpu~EPYC nic.speed>=25000'\n"
	  "  anemosctl host list 'nic.switch=leaf-3 nic.port=Ethernet12'  (a NIC's LLDP)\n"
	  "Terms next to each other must all hold; OR, -TERM (NOT), parentheses. KEY:VALUE or\n"
	  "KEY=VALUE is equal (any case), also != < <= > >= and ~ (contains). Keys: hostname,\n"
	  "status, next, image, serial, uuid, vendor, product, asset, firmware, cpu, memory,\n"
	  "disk.count, mac, tag, bmc, nic.* disk.* dimm.* (one of them matches), bios.* system.*\n"
	  "(inventory facts), any other name an attribute. Sizes are binary (64G). A bare word\n"
	  "is found in the hostname, MACs, serial, UUID, vendor, product, status, image, CPU,\n"
	  "firmware or tags. docs/search.md has the whole language.\n",
	  0, host_list },
	{ "host", "show", "one host: identity, next boot, install settings, hardware", "REF",
	  "Shows one host: its identity, what its next boot does, its install settings and the\n"
	  "hardware it reported.\n", NOTE_REF, host_show },
	{ "host", "add", "enroll a machine by its MAC before it boots",
	  "MAC [--hostname NAME] [--next-boot ACTION] [--image NAME] [--once]\n"
	  "                 [--ssh-key KEY]... [install settings]",
	  "Enrolls a machine by the MAC it network-boots from. (A machine that boots unknown is\n"
	  "added by itself, as a new host whose next boot is discover.)\n"
	  "  --hostname NAME        its name: RFC 1123 labels, unique\n"
	  "  --next-boot ACTION     what its next network boot does (default discover)\n"
	  "  --image NAME           the image an install puts on it (anemosctl image list)\n"
	  "  --once                 after a successful install, boot from the disk\n"
	  "  --ssh-key KEY          an SSH public key for root on the installed system (repeat)\n"
	  LABEL_HELP
	  INSTALL_HELP, NOTE_ACTION, host_add },
	{ "host", "import", "enroll many machines at once from a CSV or JSON file", "FILE.csv|FILE.json",
	  "Enrolls every host of FILE in one request: all of them, or none when one is bad (the\n"
	  "error names it). FILE.csv: a header line of columns among mac, hostname, next_boot,\n"
	  "image and once, then one host a line (an empty cell leaves the field out). FILE.json:\n"
	  "an array of hosts as `host add` sends them, e.g. [{\"mac\": \"52:54:00:12:34:56\",\n"
	  "\"hostname\": \"web1\", \"next_boot\": \"install\", \"image\": \"debian\"}].\n",
	  NOTE_ACTION, host_import },
	{ "host", "set", "change a host: next boot, image, status, tags, install settings",
	  "REF [--next-boot ACTION] [--image NAME | --no-image] [--once | --always]\n"
	  "                 [--hostname NAME] [--status STATUS] [--ssh-key KEY]... [--no-ssh-keys]\n"
	  "                 [--tag TAG]... [--untag TAG]... [--attr NAME=VALUE]...\n"
	  "                 [install settings]",
	  "Changes what the options name and nothing else.\n"
	  "  --next-boot ACTION     what its next network boot does\n"
	  "  --image NAME           the image an install puts on it; --no-image: none\n"
	  "  --once | --always      after a successful install, boot from the disk (once) or\n"
	  "                         install again at every boot (always)\n"
	  "  --hostname NAME        its name: RFC 1123 labels, unique\n"
	  "  --status STATUS        set it aside (maintenance), retire it (decommissioned), or\n"
	  "                         bring it back (ready)\n"
	  "  --ssh-key KEY          an SSH public key for root (repeat; the list replaces the\n"
	  "                         host's keys); --no-ssh-keys removes them all\n"
	  LABEL_HELP
	  "  --untag TAG            take a tag off (repeat)\n"
	  "  --ack-drift            acknowledge the hardware changes anemosd saw (host show\n"
	  "                         lists them; a search finds such hosts by drift:yes)\n"
	  "  --bmc ipmi://USER@ADDRESS[:PORT]   its BMC, for power control (port default 623;\n"
	  "                         redfish://USER@ADDRESS[:PORT]: Redfish over HTTPS, default\n"
	  "                         443); --no-bmc forgets it\n"
	  "  --bmc-insecure         a Redfish BMC's certificate is not verified (self-signed)\n"
	  "  --bmc-password-file FILE   the BMC password, the file's one line (never on the\n"
	  "                         command line); anemosd stores it encrypted and never shows it\n"
	  "  --bmc-enroll           have the host's agent create the user anemos on its BMC\n"
	  "                         in-band (next boot, or the discover boot running now), with a\n"
	  "                         random password anemosd keeps: its BMC settings with no\n"
	  "                         credentials typed; --no-bmc-enroll no longer\n"
	  INSTALL_HELP
	  "To install: anemosctl host set REF --next-boot install --image NAME --once, then\n"
	  "power the machine on (or reboot it) and follow it: anemosctl host events REF --follow\n",
	  NOTE_REF | NOTE_ACTION | NOTE_STATUS, host_set },
	{ "host", "power", "power a host on, off, cycle or reset it through its BMC; or its state",
	  "REF status|on|off|soft-off|cycle|reset [--boot network|disk] [--detach]",
	  "Asks the host's BMC (set with host set REF --bmc) for the action and waits for its\n"
	  "answer, which is also one of the host's events (with who asked). off cuts the power;\n"
	  "soft-off asks the OS to shut down. cycle and reset power on a machine that is off.\n"
	  "  --boot network|disk    the next boot only goes to the network or the disk\n"
	  "  --detach               return once anemosd has queued it\n", NOTE_REF, host_power },
	{ "host", "reinstall", "install a host again through its BMC: network boot, power cycle",
	  "REF [--image NAME] [--detach]",
	  "Sets the host to install once (NAME, default its image), has its BMC boot it from the\n"
	  "network once and power-cycles it (powers it on when it is off), then follows its\n"
	  "events until it is deployed.\n"
	  "  --image NAME           the image to install\n"
	  "  --detach               return once the power cycle is queued\n", NOTE_REF, host_reinstall },
	{ "host", "rm", "forget a host", "REF",
	  "Removes a host and its events. A machine that network-boots again comes back as a new\n"
	  "host.\n", NOTE_REF, host_rm },
	{ "host", "events", "a host's events; --follow: as they happen, with progress",
	  "REF [--limit N] [--follow [--timeout SECONDS]]",
	  "Prints a host's events, oldest first: time, level, phase, message, progress.\n"
	  "  --limit N              the last N events (1-1000; default 100)\n"
	  "  --follow               then each new event as it happens, until the host gets to\n"
	  "                         deployed (exit 0) or failed (exit 1) from another status, or\n"
	  "                         Ctrl-C (exit 130). On a terminal the install's progress is a\n"
	  "                         bar redrawn in place; with --json, one event a line\n"
	  "  --timeout SECONDS      with --follow: give up after SECONDS (exit 1)\n",
	  NOTE_REF, host_events },
	{ "host", "history", "what changed a host, when and by whom", "REF",
	  "Prints the events that changed a host, oldest first, one a line: when, who (the\n"
	  "admin token's name for an operator's change; server, agent or system for the\n"
	  "lifecycle's own steps) and what, old → new (secrets are named, never shown).\n"
	  "With --json, those events as anemosd answers them.\n", NOTE_REF, host_history },
	{ "rule", "add", "add a discovery rule: a search and what its hosts get",
	  "NAME --query SEARCH [--priority N] [--max-count N] [--tag TAG]... [--attr NAME=VALUE]...\n"
	  "                 [--image NAME] [--next-boot ACTION] [--once] [--install-setting KEY=VALUE]... [--disabled]",
	  "Adds a rule (an admin token's job). On a host's first inventory the enabled rules are\n"
	  "tried in priority order (lower first, then by name); the first that matches the host\n"
	  "fires, and no other: the host gets its actions, and an event by rule:NAME says what\n"
	  "changed. A rule that has claimed --max-count hosts is passed over for the next one.\n"
	  "  --query SEARCH         the hosts it is for, in the search language (host list --help)\n"
	  "  --priority N           0 to 1000000, lower is tried first (default 100)\n"
	  "  --max-count N          at most N hosts ever claimed (default no limit)\n"
	  "  --tag TAG              a tag the host gets (repeat)\n"
	  "  --attr NAME=VALUE      an attribute the host gets (repeat)\n"
	  "  --image NAME           the image it installs (anemosctl image list)\n"
	  "  --next-boot ACTION     its next boot (install needs --image)\n"
	  "  --once                 after an install, boot from disk\n"
	  "  --install-setting KEY=VALUE   an install setting merged into the host's (repeat):\n"
	  "                         after=poweroff, mirror=URL, disk='{\"serial\":\"S\"}' (JSON\n"
	  "                         values are read as JSON)\n"
	  "  --disabled             add it switched off\n", NOTE_ACTION, rule_add },
	{ "rule", "list", "the discovery rules, in the order they are tried", "",
	  "Lists the rules: name, priority, hosts claimed (of max count), enabled, search, actions.\n",
	  0, rule_list },
	{ "rule", "show", "one rule and the hosts it claimed", "NAME",
	  "Shows a rule's search, priority, max count and actions, and each host it fired on.\n",
	  0, rule_show },
	{ "rule", "rm", "remove a discovery rule", "NAME",
	  "Removes a rule; what it gave hosts stays theirs, the record of its claims goes with it.\n",
	  0, rule_rm },
	{ "rule", "test", "which hosts a search would match now, changing nothing", "SEARCH",
	  "Lists the hosts that SEARCH (a rule's query) matches now, as host list does; a\n"
	  "search that does not parse is refused with the position at fault.\n", 0, rule_test },
	{ "image", "list", "the images hosts can install", "",
	  "Lists the images: name, format, size, the start of the SHA-256, and where targets get\n"
	  "it (file: from anemosd; else its URL).\n", 0, image_list },
	{ "image", "add", "add an image: a file to upload, a URL, or a recipe folder",
	  "FILE|URL|DIR [--name NAME] [--sha256 HEX] [--format FORMAT]",
	  "A local FILE is uploaded to anemosd, which checks its SHA-256 (computed here first\n"
	  "unless --sha256 is given). A URL is recorded as it is: targets download it from there,\n"
	  "so --sha256 is required. A recipe folder DIR (with a recipe or IMGBUILD file) becomes\n"
	  "a recipe image, which each target builds itself from the recipe's Debian mirror (or\n"
	  "the host's --mirror).\n"
	  "  --name NAME            the image's name (default: the file name without its suffix)\n"
	  "  --sha256 HEX           its SHA-256, 64 hex digits\n"
	  "  --format FORMAT        tar, tar.gz, tar.xz, tar.zst, raw, raw.gz, raw.xz or raw.zst\n"
	  "                         (default: from the suffix; .img counts as raw)\n",
	  0, image_add },
	{ "image", "rm", "remove an image no host uses", "NAME",
	  "Removes an image, and its file when anemosd stores it. An image a host is assigned\n"
	  "is refused: assign another first (anemosctl host set REF --image OTHER).\n",
	  0, image_rm },
	{ "search", "list", "the saved searches: @NAME in any search stands for one", "",
	  "Lists the saved searches: name, query, and the admin token that saved it.\n", 0, search_list },
	{ "search", "save", "save a search under a name (anemosctl host list @NAME)", "NAME QUERY...",
	  "Saves QUERY (the words joined, as host list joins them) as @NAME, replacing the one of\n"
	  "that name. NAME is lower-case letters, digits and . _ -; the query is checked now and\n"
	  "may not name another saved search. Then `anemosctl host list @NAME -tag:retired`, or\n"
	  "@NAME in the dashboard's search box.\n"
	  "  anemosctl search save big-db 'tag:db memory>=256G'\n", 0, search_save },
	{ "search", "rm", "remove a saved search", "NAME",
	  "Removes the saved search NAME; a search naming @NAME is refused afterwards.\n", 0, search_rm },
	{ "webhook", "add", "send host events to a URL, signed, retried until delivered",
	  "URL [--events LIST] [--secret-file FILE] [--disabled]",
	  "Adds a webhook: anemosd POSTs each event that passes --events to URL (http:// or\n"
	  "https://, whose certificate is verified) as JSON, one at a time and in order, signed\n"
	  "with HMAC-SHA256 in X-Anemos-Signature: sha256=HEX. A failed delivery is tried again\n"
	  "after 1 s, 2 s, 4 s ... up to 5 minutes apart, until anemosd's --webhook-attempts.\n"
	  "  --events LIST          comma-separated: * (every event but progress; the default),\n"
	  "                         deployed, failed, warning, power, drift, changed, enrolled,\n"
	  "                         inventory, boot, install, security, progress, level:LEVEL,\n"
	  "                         phase:PHASE, source:SOURCE\n"
	  "  --secret-file FILE     sign with the secret in FILE (16-256 bytes); without it\n"
	  "                         anemosd makes one, printed here once and never again\n"
	  "  --disabled             add it paused (events wait until it is enabled)\n",
	  0, webhook_add },
	{ "webhook", "list", "the webhooks, how their last delivery went, since when they fail", "",
	  "Lists the webhooks: id, URL, events, the last delivery's result and time, since when\n"
	  "deliveries fail (until one succeeds) and the last error.\n", 0, webhook_list },
	{ "webhook", "show", "one webhook and its recent deliveries", "ID",
	  "Shows a webhook and its 20 newest deliveries: each attempt's status, the receiver's\n"
	  "HTTP status and the error, and when a pending one is tried next.\n", 0, webhook_show },
	{ "webhook", "rm", "remove a webhook", "ID",
	  "Removes a webhook and its deliveries; events no longer go to its URL.\n", 0, webhook_rm },
	{ "webhook", "test", "send a ping to a webhook now and say how it went", "ID",
	  "POSTs {\"type\": \"ping\"} to the webhook's URL at once, signed like every delivery,\n"
	  "and prints the outcome (exit 1 when it failed). The ping is one of its deliveries.\n",
	  0, webhook_test },
	{ "reinstall", "", "reinstall a running host without network boot, over SSH",
	  "HOST --ssh [user@]addr[:port] [--image NAME] [--method auto|kexec|bootloader]\n"
	  "                 [--network auto|dhcp|static] [--keep-host-keys]",
	  "Moves a running host (a cloud VM without network boot) into the Anemos environment,\n"
	  "which installs NAME (default: the host's image): by kexec, or else a one-shot boot\n"
	  "entry. It logs in with the system's ssh, its config and agent, as root (or uses sudo);\n"
	  "$ANEMOS_SSH replaces the command (e.g. \"ssh -i KEY\").\n"
	  "  --ssh [user@]addr[:port]   where the host is reached\n"
	  "  --image NAME           the image to install\n"
	  "  --method auto|kexec|bootloader   how to boot the Anemos environment (default auto)\n"
	  "  --network auto|dhcp|static       its network: as the host has it (auto) or forced\n"
	  "  --keep-host-keys       the new system keeps the host's SSH host keys (no new\n"
	  "                         known_hosts entry; not after a compromise: it gets new ones\n"
	  "                         by default)\n",
	  NOTE_REF, remote_reinstall },
	{ "rescue", "", "boot a running host into the rescue environment, over SSH",
	  "HOST --ssh [user@]addr[:port] [--method ...] [--network ...]",
	  "As reinstall, into the rescue environment with SSH: no disk changes, and a reboot\n"
	  "returns to the installed system.\n", NOTE_REF, remote_rescue },
	{ "adopt", "", "register a running host's inventory, over SSH",
	  "--ssh [user@]addr[:port] [--host REF] [--inventory PATH]",
	  "Runs anemos-inventory on a running host (sending a static one when it has none) and\n"
	  "registers what it reports.\n"
	  "  --ssh [user@]addr[:port]   where the host is reached\n"
	  "  --host REF             the host it goes onto (to adopt it again); else a new one\n"
	  "  --inventory PATH       the anemos-inventory to send (default: the static build\n"
	  "                         beside anemosctl)\n", NOTE_REF, remote_adopt },
	{ "deploy", "", "deploy a running host over SSH, with no anemosd (or recorded on one)",
	  "--ssh [user@]addr[:port] (RECIPE_DIR|IMAGE_URL | IMAGE --url URL [--host REF]) [--sha256 HEX]\n"
	  "                 [--format F] [--hostname NAME]\n"
	  "                 [--ssh-key KEY|FILE]...\n"
	  "                 [--mirror URL] [--network auto|dhcp|static] [--method auto|kexec|bootloader]\n"
	  "                 [--disk KIND=VALUE] [--root-password-hash-file F] [--user-data F] [--detach]",
	  "Deploys a running Linux host (a cloud VM, a VPS) with the recipe in RECIPE_DIR, needing\n"
	  "no anemosd: over one SSH session (as root, or with sudo) it checks the host as reinstall\n"
	  "does, sends the Anemos kernel and initramfs with a payload (the recipe, these settings,\n"
	  "your keys; the host's own SSH host keys join it there) and kexecs, or else boots a\n"
	  "one-shot boot entry. The host builds the recipe onto its disk from the mirror, keeps its\n"
	  "address and host keys, and reboots into the new system; anemosctl follows it over SSH\n"
	  "and ends with `deployed in N s`, or the failure and the last lines of its log.\n"
	  "IMAGE_URL (http:// or https://): an image the host downloads and verifies itself.\n"
	  "With --url URL (anemosd's), anemosd records the host as reinstall does: its inventory\n"
	  "goes onto --host REF or a new host, these settings onto that host, IMAGE (an image\n"
	  "anemosd has, by name) is installed from anemosd's plan, and anemosctl follows the host's\n"
	  "events there ($ANEMOS_URL alone does not make a deploy recorded).\n"
	  "  --ssh [user@]addr[:port]   where the host is reached ($ANEMOS_SSH replaces \"ssh\")\n"
	  "  --hostname NAME        the new system's name (default: the host's current one)\n"
	  "  --ssh-key KEY|FILE     a key root may log in with (repeat for more); default the\n"
	  "                         SSH agent's keys, else ~/.ssh/*.pub\n"
	  "  --mirror URL           the Debian mirror to build from (default: the recipe's)\n"
	  "  --network auto|dhcp|static   auto: as the host has it now (a static address is\n"
	  "                         carried over)\n"
	  "  --method auto|kexec|bootloader   how to boot the Anemos environment (default auto)\n"
	  "  --disk serial=S|by_path=P|name=N   the disk (default the largest non-removable one)\n"
	  "  --root-password-hash-file F   root's crypt(3) hash (mkpasswd -m sha-512 makes one)\n"
	  "  --user-data F          cloud-init user-data for the new system\n"
	  "  --detach               return once the host boots the Anemos environment\n"
	  "  --boot-dir DIR         the Anemos vmlinuz and initramfs.img (default: boot/ beside\n"
	  "                         anemosctl, else /usr/local/share/anemos/boot)\n"
	  "  --boot-url URL         the host downloads URL/vmlinuz and URL/initramfs.img itself\n"
	  "                         instead of receiving them; they must be the --boot-dir files\n"
	  "                         (their SHA-256s are checked)\n"
	  "  --mirror-ca FILE       PEM CA certificate(s) the host trusts for an https:// mirror\n"
	  "                         or image, besides Debian's (a mirror of your own CA's)\n"
	  "  --kernel-args ARGS     the Anemos environment's console (default\n"
	  "                         \"console=tty0 console=ttyS0,115200n8\")\n"
	  "  --timeout SECONDS      how long to follow the deploy (default 3600)\n"
	  "  --url URL              anemosd's address: the deploy is recorded there (IMAGE by name)\n"
	  "  --host REF             with --url, the host anemosd knows this one as (else a new one)\n"
	  "  --inventory PATH       with --url, the anemos-inventory to send when the host has none\n"
	  "                         (default: the static build beside anemosctl)\n"
	  "  --sha256 HEX           IMAGE_URL's SHA-256 (needed: the host checks what it downloads)\n"
	  "  --format F             IMAGE_URL's format: tar, tar.gz, tar.xz, tar.zst, raw, raw.gz,\n"
	  "                         raw.xz or raw.zst (default: from its name)\n"
	  "The password hash and user-data travel inside the SSH session, never on a command line.\n"
	  "With --json each phase is a JSON line.\n",
	  0, deploy_ssh },
	{ "dnsmasq", "config", "the dnsmasq configuration of a provisioning network",
	  "--mode proxy|dhcp --interface IF --server-ip ADDR --server-url URL\n"
	  "                 [--subnet NET | --range START,END [--router ADDR] [--dns ADDR] [--lease TIME]]\n"
	  "                 [--netmask MASK] [--tftp tftp-hpa|dnsmasq] [--tftp-root DIR] [--output FILE]",
	  "Prints (or with --output writes) the dnsmasq configuration of a provisioning network;\n"
	  "it needs no anemosd. proxy mode answers PXE beside the site's DHCP server (--subnet:\n"
	  "the network it serves); dhcp mode hands out --range itself (with --router, --dns,\n"
	  "--lease). ADDR is this host's address on IF, where the TFTP server listens; URL is\n"
	  "anemosd's public URL. --tftp dnsmasq serves TFTP from dnsmasq itself instead of\n"
	  "tftp-hpa; --tftp-root is the folder it serves (default /srv/anemos/tftp).\n",
	  0, dnsmasq_config },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The global options and what they default to, for the full help. */
static const char help_options[] =
	"options:\n"
	"  --url URL      anemosd's address (default $ANEMOS_URL, else " DEFAULT_URL ")\n"
	"  --token TOKEN  admin token (default $ANEMOS_TOKEN, else the contents of the file\n"
	"                 named by $ANEMOS_TOKEN_FILE); `make run` keeps one in var/admin-token,\n"
	"                 an installed appliance in /etc/anemos/admin-token, and\n"
	"                 `anemosd token create --data DIR` makes another. Prefer the\n"
	"                 environment: --token shows in the process list.\n"
	"  --ca FILE      with an https:// URL, the PEM CA certificate(s) anemosd's certificate\n"
	"                 must be signed by (default $ANEMOS_CA, else the system's CAs); the\n"
	"                 certificate is always verified\n"
	"  --json         print the API's JSON answers (nothing for rm, which has none);\n"
	"                 accepted anywhere before --\n"
	"  --help         this text; after a command, that command's options\n"
	"\n"
	"Exit status: 0 done, 1 failed (anemosd unreachable or refusing), 2 wrong command line,\n"
	"130 interrupted (Ctrl-C).\n";

/* Prints "NOUN VERB" of @command to @out, padded to @width bytes. */
static void print_name(FILE *out, const struct command *command, int width)
{
	int pad = width - (int)strlen(command->noun) - (command->verb[0] ? 1 : 0);

	fprintf(out, "%s%s%-*s", command->noun, command->verb[0] ? " " : "", pad > 0 ? pad : 0, command->verb);
}

/* Prints the commands whose noun is @noun (every command for NULL), one a line with its
 * summary, to @out. */
static void list_commands(FILE *out, const char *noun)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		if (noun && strcmp(noun, commands[i].noun) != 0)
			continue;
		fputs("  ", out);
		print_name(out, &commands[i], 16);
		fprintf(out, "%s\n", commands[i].summary);
	}
}

/* Prints the one-line synopsis of @command to @out. */
static void print_synopsis(FILE *out, const struct command *command)
{
	fputs("usage: anemosctl ", out);
	print_name(out, command, 0);
	fprintf(out, "%s%s\n", command->args[0] ? " " : "", command->args);
}

/* Prints the lists that @notes (enum help_note) name to @out. */
static void print_notes(FILE *out, unsigned notes)
{
	char list[128];

	if (notes & NOTE_REF)
		fputs("REF (or HOST) is a host's id, hostname or any of its MACs.\n", out);
	if (notes & NOTE_ACTION) {
		boot_action_list(list, sizeof(list), ", ");
		fprintf(out, "ACTION is one of %s.\n", list);
	}
	if (notes & NOTE_STATUS) {
		host_operator_status_list(list, sizeof(list), ", ");
		fprintf(out, "STATUS is one of %s.\n", list);
	}
}

/* Prints @command's own help to stdout: its synopsis, what it does, its options. */
static void command_help(const struct command *command)
{
	print_synopsis(stdout, command);
	printf("\n%s", command->help);
	if (command->notes) {
		putchar('\n');
		print_notes(stdout, command->notes);
	}
	printf("\nGlobal options (--url, --token, --ca, --json): anemosctl --help\n");
}

/* Prints the command list to @out, and with @full the whole help (to stdout). */
static void usage(FILE *out, int full)
{
	fprintf(out, "usage: anemosctl [--url URL] [--token TOKEN] [--ca FILE] [--json] COMMAND ...\n\n"
		"commands:\n");
	list_commands(out, NULL);
	fprintf(out, "\n`anemosctl COMMAND --help` shows a command's options.\n");
	if (full) {
		fputc('\n', out);
		print_notes(out, NOTE_REF | NOTE_ACTION | NOTE_STATUS);
		fprintf(out, "\n%s", help_options);
	}
}

/*
 * Prints the command list and the step that comes next, which depends on what the
 * environment already gives: the appliance's URL, the token. Asks anemosd nothing.
 */
static void overview(void)
{
	const char *url = getenv("ANEMOS_URL"), *token = getenv("ANEMOS_TOKEN");
	const char *token_file = getenv("ANEMOS_TOKEN_FILE");

	printf("anemosctl drives anemosd, the Anemos provisioning appliance, over its HTTP API.\n\n");
	usage(stdout, 0);
	if (!url || !*url)
		printf("\nNext, start the appliance and point anemosctl at it:\n"
		       "  make run                 # in the source tree; prints the URL and an admin token\n"
		       "  export ANEMOS_URL=http://127.0.0.1:8080 ANEMOS_TOKEN=$(cat var/admin-token)\n"
		       "  anemosctl status\n"
		       "(An installed appliance keeps its token in /etc/anemos/admin-token.)\n");
	else if ((!token || !*token) && (!token_file || !*token_file))
		printf("\nNext, give anemosctl the admin token of %s:\n"
		       "  export ANEMOS_TOKEN=$(cat var/admin-token)   # after make run; installed:"
		       " /etc/anemos/admin-token\n"
		       "or make another: anemosd token create --data DIR\n", url);
	else
		printf("\nNext:\n"
		       "  anemosctl status         # the appliance at %s\n"
		       "  anemosctl host list      # the machines it knows\n", url);
}

/*
 * Takes --json and --help out of argv wherever they stand before "--", since they belong
 * to the whole program rather than to one command. Returns the new argc.
 */
static int take_switches(int argc, char **argv, int *json, int *help)
{
	int i, kept = 1;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--json") == 0)
			*json = 1;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			*help = 1;
		else
			argv[kept++] = argv[i];
	}
	while (i < argc)
		argv[kept++] = argv[i++];
	argv[kept] = NULL;
	return kept;
}

int parse_command(int argc, char **argv, const struct option *options,
		  int (*handle)(void *ctx, int option, const char *arg), void *ctx,
		  int min, int max)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	char shorts[32] = ":";	/* an option whose value is a letter is also -LETTER */
	size_t n = 1;
	int c, rc, count;

	for (const struct option *o = options; o && o->name; o++)
		if (!o->flag && o->val > 0 && o->val < 128 && isalpha(o->val) && n + 3 < sizeof(shorts)) {
			shorts[n++] = (char)o->val;
			if (o->has_arg == required_argument)
				shorts[n++] = ':';
		}
	shorts[n] = '\0';
	optind = 0;		/* glibc: start afresh on this argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, options ? options : none, NULL)) != -1) {
		if (c == ':')
			return err_set(-EINVAL, "%s needs a value", argv[optind - 1]);
		if (c == '?')
			return optopt ? err_set(-EINVAL, "unknown option -%c", optopt)
				      : err_set(-EINVAL, "unknown option %s", argv[optind - 1]);
		if ((rc = handle(ctx, c, optarg)) != 0)
			return rc;
	}
	count = argc - optind;
	if (count < min)
		return err_set(-EINVAL, "missing argument");
	if (count > max)
		return err_set(-EINVAL, "unexpected argument '%s'", argv[optind + max]);
	return optind;
}

int check_choice(const char *option, const char *value, const char *const *choices)
{
	const char *const *choice;

	for (choice = choices; *choice; choice++)
		if (strcmp(value, *choice) == 0)
			return 0;
	fprintf(stderr, "%s: %s must be one of", program_invocation_short_name, option);
	for (choice = choices; *choice; choice++)
		fprintf(stderr, "%s %s", choice == choices ? "" : ",", *choice);
	fprintf(stderr, " (not '%s')\n", value);
	return -EINVAL;
}

/*
 * Keeps a copy of @token, which came from @origin, in @ctl. It goes into an HTTP header,
 * so only visible ASCII is accepted. @origin must outlive @ctl. Returns 0, -EBADMSG or
 * -ENOMEM, with the message.
 */
static int set_token(struct ctl *ctl, const char *token, const char *origin)
{
	const char *p;

	for (p = token; *p; p++) {
		if (*p < 0x21 || *p > 0x7e)
			return err_set(-EBADMSG, "the token from %s contains spaces or control characters", origin);
	}
	if (!(ctl->token = strdup(token)))
		return err_set(-ENOMEM, "token: %s", strerror(errno));
	ctl->token_origin = origin;
	return 0;
}

/* Reads the token from the file @path, without trailing white space. Returns like set_token(). */
static int read_token_file(struct ctl *ctl, const char *path)
{
	char buf[TOKEN_MAX + 1];
	size_t len;
	FILE *file;
	int rc;

	if (!(file = fopen(path, "r")))
		return err_set(-errno, "cannot read the token file %s ($ANEMOS_TOKEN_FILE): %s", path, strerror(errno));
	len = fread(buf, 1, sizeof(buf) - 1, file);
	rc = ferror(file) ? -EIO : 0;
	fclose(file);
	if (rc != 0)
		return err_set(rc, "cannot read the token file %s", path);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0)
		return err_set(-ENODATA, "the token file %s is empty", path);
	return set_token(ctl, buf, path);
}

/*
 * Finds the admin token: --token (@option), else $ANEMOS_TOKEN, else the file named by
 * $ANEMOS_TOKEN_FILE. Having none is not an error here: the first request says how to
 * get one, so that commands that fail on their arguments complain about those first.
 */
static int load_token(struct ctl *ctl, const char *option)
{
	const char *env;

	if (option)
		return set_token(ctl, option, "--token");
	if ((env = getenv("ANEMOS_TOKEN")) && *env)
		return set_token(ctl, env, "$ANEMOS_TOKEN");
	if ((env = getenv("ANEMOS_TOKEN_FILE")) && *env)
		return read_token_file(ctl, env);
	return 0;
}

bool is_http_url(const char *text)
{
	return strncmp(text, "http://", 7) == 0 || strncmp(text, "https://", 8) == 0;
}

int ctl_set_url(struct ctl *ctl, const char *url, const char *origin)
{
	size_t len = strlen(url);
	char *copy;

	if (!is_http_url(url))
		return err_set(-EINVAL, "the URL '%s' must start with http:// or https://", url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (!(copy = strndup(url, len)))
		return err_set(-ENOMEM, "url: %s", strerror(errno));
	free(ctl->url);
	ctl->url = copy;
	ctl->url_origin = origin;
	return 0;
}

/* Sets ctl->url from @option, else $ANEMOS_URL, else the default, and ctl->url_origin.
 * Returns 0 or -errno, with the message. */
static int load_url(struct ctl *ctl, const char *option)
{
	const char *env = getenv("ANEMOS_URL");

	if (option)
		return ctl_set_url(ctl, option, "--url");
	if (env && *env)
		return ctl_set_url(ctl, env, "$ANEMOS_URL");
	return ctl_set_url(ctl, DEFAULT_URL, NULL);
}

/*
 * Sets ctl->ca from @option, else $ANEMOS_CA. A CA only means something for https://: with
 * an http:// URL nothing would be verified, which the operator giving one cannot want.
 * Returns 0 or -EINVAL, with the message.
 */
static int load_ca(struct ctl *ctl, const char *option)
{
	const char *ca = option, *env;

	if (!ca && (env = getenv("ANEMOS_CA")) && *env)
		ca = env;
	if (ca && strncmp(ctl->url, "https://", 8) != 0)
		return err_set(-EINVAL, "%s names a CA, but %s is not an https:// URL: nothing would be verified",
					option ? "--ca" : "$ANEMOS_CA", ctl->url);
	ctl->ca = ca;
	return 0;
}

/*
 * Reads --url, --token and --ca, which stand before the command. Returns the index of the
 * command in argv, or -EINVAL (with the message).
 */
static int parse_globals(int argc, char **argv, const char **url, const char **token, const char **ca)
{
	static const struct option options[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "ca", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", options, NULL)) != -1) {
		switch (c) {
		case 'u':
			*url = optarg;
			break;
		case 't':
			*token = optarg;
			break;
		case 'c':
			*ca = optarg;
			break;
		case ':':
			return err_set(-EINVAL, "%s needs a value", argv[optind - 1]);
		default:
			return err_set(-EINVAL, "unknown option %s", argv[optind - 1]);
		}
	}
	return optind;
}

/* Returns the command named by argv[0] and argv[1], or NULL. */
static const struct command *find_command(int argc, char **argv)
{
	size_t i;

	if (argc < 1)
		return NULL;
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[0], commands[i].noun) == 0 &&
		    (!commands[i].verb[0] || (argc > 1 && strcmp(argv[1], commands[i].verb) == 0)))
			return &commands[i];
	return NULL;
}

/* True when @noun is the first word of commands that take a second one (host, image...). */
static bool has_verbs(const char *noun)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(noun, commands[i].noun) == 0 && commands[i].verb[0])
			return true;
	return false;
}

/*
 * Says that argv names no command, and which it could have been: a noun's commands after
 * "host" or "host frobnicate", else all of them. Returns EXIT_USAGE.
 */
static int unknown_command(int argc, char **argv)
{
	if (argc > 1 || !has_verbs(argv[0]))
		warnx("unknown command '%s%s%s'", argv[0], argc > 1 && has_verbs(argv[0]) ? " " : "",
		      argc > 1 && has_verbs(argv[0]) ? argv[1] : "");
	else
		warnx("'%s' needs a command", argv[0]);
	if (has_verbs(argv[0])) {
		fprintf(stderr, "%s commands:\n", argv[0]);
		list_commands(stderr, argv[0]);
		fprintf(stderr, "`anemosctl %s COMMAND --help` shows a command's options.\n", argv[0]);
	} else {
		usage(stderr, 0);
	}
	return EXIT_USAGE;
}

/*
 * --help (or "help") with the rest of the command line @argc, @argv: a command's own help,
 * a noun's commands, or with nothing more the whole help.
 */
static int help(int argc, char **argv)
{
	const struct command *command = find_command(argc, argv);

	if (argc == 0)
		usage(stdout, 1);
	else if (command)
		command_help(command);
	else if (argc == 1 && has_verbs(argv[0]))
		list_commands(stdout, argv[0]);
	else
		return unknown_command(argc, argv);
	return EXIT_SUCCESS;
}

void ctl_print_error(void)
{
	const char *line = err_msg(), *end;

	/* one warnx a line: "anemosctl: " before each, as when they were printed one by one */
	while (*line) {
		end = strchr(line, '\n');
		warnx("%.*s", end ? (int)(end - line) : (int)strlen(line), line);
		line = end ? end + 1 : line + strlen(line);
	}
	err_clear();
}

/* Runs @command with @ctl ready: the edge of the error convention (lib/errors.h), which prints
 * the message of a failure; then its usage if the command line was wrong. */
static int run_command(struct ctl *ctl, const struct command *command, int argc, char **argv)
{
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(-ENOMEM, "cannot initialise libcurl");
	err_clear();
	rc = command->run(ctl, argc, argv);
	curl_global_cleanup();
	if (rc < 0)
		ctl_print_error();
	if (rc == -EINVAL) {
		print_synopsis(stderr, command);
		fputs("(`anemosctl ", stderr);
		print_name(stderr, command, 0);
		fputs(" --help` tells more)\n", stderr);
	}
	return rc;
}

/* Returns the exit status for @rc, after making sure stdout was written. */
static int exit_status(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("writing the output");
		return EXIT_FAILURE;
	}
	if (rc == -EINVAL)
		return EXIT_USAGE;
	if (rc == -EINTR)
		return EXIT_INTERRUPTED;
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { 0 };
	const struct command *command;
	const char *url = NULL, *token = NULL, *ca = NULL;
	int want_help = 0, first, rc;

	argc = take_switches(argc, argv, &ctl.json, &want_help);
	if ((first = parse_globals(argc, argv, &url, &token, &ca)) < 0) {
		ctl_print_error();
		usage(stderr, 0);
		return EXIT_USAGE;
	}
	argc -= first;
	argv += first;
	if (argc > 0 && strcmp(argv[0], "help") == 0) {
		want_help = 1;
		argc--;
		argv++;
	}
	if (want_help) {
		rc = help(argc, argv);
		return rc == EXIT_SUCCESS ? exit_status(0) : rc;
	}
	if (argc == 0) {
		overview();
		return exit_status(0);
	}
	if (!(command = find_command(argc, argv)))
		return unknown_command(argc, argv);
	if ((rc = load_url(&ctl, url)) == 0 && (rc = load_ca(&ctl, ca)) == 0 && (rc = load_token(&ctl, token)) == 0)
		rc = command->verb[0] ? run_command(&ctl, command, argc - 1, argv + 1)
				      : run_command(&ctl, command, argc, argv);
	if (rc < 0)
		ctl_print_error();	/* a failure before the command ran (run_command printed its own) */
	free(ctl.url);
	free(ctl.token);
	return exit_status(rc);
}
