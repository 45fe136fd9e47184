/*
 * anemosctl host list|show|add|set|rm|events: hosts over /api/v1/hosts. add and set take
 * every install setting too; PATCH replaces a host's settings whole, so set merges what it
 * was told into the host's current ones.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "anemosctl.h"
#include "query.h"
#include "lifecycle.h"

#define EVENTS_LIMIT_MAX	1000	/* the most events anemosd returns at once */
#define FIELD_NAME_WIDTH	14	/* "host show" aligns values after this many columns */
#define USER_DATA_MAX		65536	/* largest cloud-init user-data anemosd takes, in bytes */
#define HASH_FILE_MAX		4096	/* largest password hash file read, in bytes */
#define HASH_MAX		512	/* longest crypt(3) hash anemosd takes, in bytes */
/* What a crypt(3) hash is made of: "$id$[params$]salt$hash". */
#define CRYPT_CHARACTERS	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./$=,-"
#define TIMEOUT_MAX		(7L * 24 * 3600)	/* the longest --timeout, in seconds */

/* Checks @arg against the names of lib/lifecycle.h: the next-boot actions, or the statuses
 * an operator may set (the others follow from what the host does). 0 or -EINVAL, with the message. */
static int check_lifecycle(const char *option, const char *arg, bool operator_status)
{
	const char *names[HOST_STATUS_COUNT + BOOT_ACTION_COUNT + 1];
	enum host_event event;
	size_t n = 0;

	for (int i = 0; operator_status && i < HOST_STATUS_COUNT; i++)
		if (host_operator_event((enum host_status)i, &event) == 0)
			names[n++] = host_status_name((enum host_status)i);
	for (int i = 0; !operator_status && i < BOOT_ACTION_COUNT; i++)
		names[n++] = boot_action_name((enum boot_action)i);
	names[n] = NULL;
	return check_choice(option, arg, names);
}

enum host_option_id {
	OPT_HOSTNAME = 256,
	OPT_NEXT_BOOT,
	OPT_IMAGE,
	OPT_NO_IMAGE,
	OPT_ONCE,
	OPT_ALWAYS,
	OPT_STATUS,
	OPT_SSH_KEY,
	OPT_NO_SSH_KEYS,
	OPT_TAG,
	OPT_UNTAG,
	OPT_ATTR,
	OPT_ACK_DRIFT,
	OPT_CSV,
	OPT_MIRROR,
	OPT_NO_MIRROR,
	OPT_DISK,
	OPT_NO_DISK,
	OPT_NETWORK,
	OPT_ADDRESS,
	OPT_GATEWAY,
	OPT_DNS,
	OPT_IPV6,
	OPT_HASH_FILE,
	OPT_PASSWORD_PROMPT,
	OPT_NO_PASSWORD,
	OPT_USER_DATA,
	OPT_NO_USER_DATA,
	OPT_KERNEL_ARGS,
	OPT_NO_KERNEL_ARGS,
	OPT_AFTER,
	OPT_LIMIT,
	OPT_FOLLOW,
	OPT_TIMEOUT,
	OPT_BMC,
	OPT_BMC_PASSWORD_FILE,
	OPT_NO_BMC,
	OPT_BMC_INSECURE,
	OPT_BMC_ENROLL,
	OPT_NO_BMC_ENROLL,
};

/* The options of "host add" and "host set" that change install settings. */
#define LABEL_OPTIONS \
	{ "tag", required_argument, NULL, OPT_TAG }, \
	{ "attr", required_argument, NULL, OPT_ATTR }

#define INSTALL_OPTIONS \
	{ "disk", required_argument, NULL, OPT_DISK }, \
	{ "no-disk", no_argument, NULL, OPT_NO_DISK }, \
	{ "network", required_argument, NULL, OPT_NETWORK }, \
	{ "address", required_argument, NULL, OPT_ADDRESS }, \
	{ "gateway", required_argument, NULL, OPT_GATEWAY }, \
	{ "dns", required_argument, NULL, OPT_DNS }, \
	{ "ipv6", required_argument, NULL, OPT_IPV6 }, \
	{ "root-password-hash-file", required_argument, NULL, OPT_HASH_FILE }, \
	{ "root-password-prompt", no_argument, NULL, OPT_PASSWORD_PROMPT }, \
	{ "no-root-password", no_argument, NULL, OPT_NO_PASSWORD }, \
	{ "user-data", required_argument, NULL, OPT_USER_DATA }, \
	{ "no-user-data", no_argument, NULL, OPT_NO_USER_DATA }, \
	{ "kernel-args", required_argument, NULL, OPT_KERNEL_ARGS }, \
	{ "no-kernel-args", no_argument, NULL, OPT_NO_KERNEL_ARGS }, \
	{ "after", required_argument, NULL, OPT_AFTER }, \
	{ "mirror", required_argument, NULL, OPT_MIRROR }, \
	{ "no-mirror", no_argument, NULL, OPT_NO_MIRROR }

/* How "--disk KIND=VALUE" may name the disk, as install.disk spells it. */
static const char *const disk_kinds[] = { "serial", "by_path", "name", NULL };
static const char *const ipv6_modes[] = { "auto", "dhcp", "off", NULL };
static const char *const network_modes[] = { "dhcp", "static", NULL };
static const char *const after_install[] = { "reboot", "poweroff", "kexec", NULL };

/* What "host add" or "host set" was told. */
struct host_edit {
	json_t *body;		/* the fields sent as they are: hostname, next_boot...; owned */
	json_t *install;	/* install settings to change: each a value, or JSON null to
				 * remove it; owned */
	json_t *network;	/* the install.network fields given (mode, address, gateway,
				 * dns), merged into the host's; NULL when none; owned */
	const char *hash_file;	/* --root-password-hash-file, or NULL */
	const char *user_data;	/* --user-data FILE, or NULL */
	bool password_prompt;	/* --root-password-prompt */
};

/* Starts @edit empty. Returns 0 or -ENOMEM (with the message). */
static int host_edit_init(struct host_edit *edit)
{
	memset(edit, 0, sizeof(*edit));
	if (!(edit->body = json_object()) || !(edit->install = json_object())) {
		json_decref(edit->body);
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

/* Releases everything @edit holds. */
static void host_edit_free(struct host_edit *edit)
{
	json_decref(edit->body);
	json_decref(edit->install);
	json_decref(edit->network);
}

/* True when @edit changes any install setting. */
static bool host_edit_installs(const struct host_edit *edit)
{
	return json_object_size(edit->install) > 0 || edit->network || edit->hash_file ||
	       edit->user_data || edit->password_prompt;
}

/* Returns the install.network fields given so far, an object that @edit owns; NULL
 * (with the message) when out of memory. */
static json_t *network_fields(struct host_edit *edit)
{
	if (!edit->network && !(edit->network = json_object()))
		err_set(-ENOMEM, "out of memory");
	return edit->network;
}

/* Appends the string @text to the array member @key of @object, made when missing.
 * Returns 0, or -EINVAL or -ENOMEM (with the message). */
static int append_text(json_t *object, const char *key, const char *text)
{
	json_t *item;
	int rc;

	if (!json_object_get(object, key) && (rc = json_set(object, key, json_array())) != 0)
		return rc;
	if ((rc = json_text_new(text, &item)) != 0)
		return rc;
	if (json_array_append_new(json_object_get(object, key), item) != 0)
		return err_set(-ENOMEM, "out of memory");
	return 0;
}

/* Sets the field @key of install.network to @arg. Returns like json_set_text(). */
static int network_option(struct host_edit *edit, const char *key, const char *arg)
{
	json_t *network = network_fields(edit);

	return network ? json_set_text(network, key, arg) : -ENOMEM;
}

/* "--disk KIND=VALUE" into install.disk, {"KIND": "VALUE"}. Returns 0 or -EINVAL/-ENOMEM. */
static int disk_option(struct host_edit *edit, const char *arg)
{
	const char *equals = strchr(arg, '=');
	char kind[16];
	json_t *disk;
	int rc;

	if (!equals || equals == arg || (size_t)(equals - arg) >= sizeof(kind) || !equals[1])
		return err_set(-EINVAL, "--disk takes serial=SERIAL, by_path=PATH or name=NAME (not '%s')", arg);
	snprintf(kind, sizeof(kind), "%.*s", (int)(equals - arg), arg);
	if ((rc = check_choice("--disk's kind", kind, disk_kinds)) != 0)
		return rc;
	if (!(disk = json_object()))
		return err_set(-ENOMEM, "out of memory");
	if ((rc = json_set_text(disk, kind, equals + 1)) != 0) {
		json_decref(disk);
		return rc;
	}
	return json_set(edit->install, "disk", disk);
}

/* Handles an option of "host add" or "host set" that changes an install setting. */
static int install_option(struct host_edit *edit, int option, const char *arg)
{
	int rc;

	switch (option) {
	case OPT_DISK:
		return disk_option(edit, arg);
	case OPT_NO_DISK:
		return json_set(edit->install, "disk", json_null());
	case OPT_NETWORK:
		if ((rc = check_choice("--network", arg, network_modes)) != 0)
			return rc;
		return network_option(edit, "mode", arg);
	case OPT_ADDRESS:	/* the first --address; each later one adds to "addresses" */
		if (network_fields(edit) && json_object_get(edit->network, "address"))
			return append_text(edit->network, "addresses", arg);
		return network_option(edit, "address", arg);
	case OPT_GATEWAY:	/* the first --gateway; with two, the IPv6 one is "gateway6" */
		if (network_fields(edit) && json_object_get(edit->network, "gateway")) {
			const char *first = json_string_value(json_object_get(edit->network, "gateway"));

			if (!first || !strchr(first, ':') == !strchr(arg, ':'))
				return err_set(-EINVAL, "--gateway twice of one family (%s and %s): one IPv4 and one IPv6 at most",
							first ? first : "?", arg);
			if (!strchr(arg, ':')) {	/* the IPv6 one came first */
				int moved = network_option(edit, "gateway6", first);

				return moved ? moved : network_option(edit, "gateway", arg);
			}
			return network_option(edit, "gateway6", arg);
		}
		return network_option(edit, "gateway", arg);
	case OPT_IPV6:
		if (check_choice("--ipv6", arg, ipv6_modes) != 0)
			return -EINVAL;
		return network_option(edit, "ipv6", arg);
	case OPT_DNS:
		/* Each --dns adds to the list; the list replaces the host's. */
		return network_fields(edit) ? append_text(edit->network, "dns", arg) : -ENOMEM;
	case OPT_HASH_FILE:
		edit->hash_file = arg;
		edit->password_prompt = false;
		json_object_del(edit->install, "root_password_hash");
		return 0;
	case OPT_PASSWORD_PROMPT:
		edit->password_prompt = true;
		edit->hash_file = NULL;
		json_object_del(edit->install, "root_password_hash");
		return 0;
	case OPT_NO_PASSWORD:
		edit->hash_file = NULL;
		edit->password_prompt = false;
		return json_set(edit->install, "root_password_hash", json_null());
	case OPT_USER_DATA:
		edit->user_data = arg;
		json_object_del(edit->install, "cloud_init_user_data");
		return 0;
	case OPT_NO_USER_DATA:
		edit->user_data = NULL;
		return json_set(edit->install, "cloud_init_user_data", json_null());
	case OPT_KERNEL_ARGS:
		return json_set_text(edit->install, "kernel_args", arg);
	case OPT_NO_KERNEL_ARGS:
		return json_set(edit->install, "kernel_args", json_null());
	case OPT_AFTER:
		if ((rc = check_choice("--after", arg, after_install)) != 0)
			return rc;
		return json_set_text(edit->install, "after", arg);
	case OPT_MIRROR:
		return json_set_text(edit->install, "mirror", arg);
	case OPT_NO_MIRROR:
		return json_set(edit->install, "mirror", json_null());
	default:
		return -EINVAL;
	}
}

char *host_path(const char *ref, const char *suffix)
{
	char *escaped, *path;

	if (!(escaped = url_escape(ref)))
		return NULL;
	if (asprintf(&path, "/api/v1/hosts/%s%s", escaped, suffix) < 0) {
		err_set(-ENOMEM, "out of memory");
		path = NULL;
	}
	free(escaped);
	return path;
}

/* Returns the text of the array item @item, "-" if it is not a string. */
static const char *item_text(const json_t *item)
{
	const char *text = json_string_value(item);

	return text ? text : "-";
}

/*
 * Returns the strings of @array joined by @separator for the caller to free, "-" for an
 * empty or missing array; NULL (with the message) when out of memory.
 */
char *join_texts(const json_t *array, const char *separator)
{
	const json_t *item;
	size_t i, len = sizeof("-");
	char *joined, *end;

	json_array_foreach(array, i, item)
		len += strlen(separator) + strlen(item_text(item));
	if (!(joined = malloc(len))) {
		err_set(-ENOMEM, "out of memory");
		return NULL;
	}
	end = stpcpy(joined, json_array_size(array) ? "" : "-");
	json_array_foreach(array, i, item)
		end = stpcpy(stpcpy(end, i ? separator : ""), item_text(item));
	return joined;
}

/*
 * Handles one option of "host add" or "host set", noting what it changes in the struct
 * host_edit @ctx.
 */
/* --tag T and --untag T into body's "tags": {"add": [...], "remove": [...]}; --attr NAME=VALUE
 * (NAME= removes it) into its "attributes". Returns 0 or a negative errno (with the message). */
static int label_option(struct host_edit *edit, int option, const char *arg)
{
	const char *eq = strchr(arg, '=');
	json_t *attrs, *value;
	char *name;
	int rc;

	if (option == OPT_TAG || option == OPT_UNTAG) {
		if (!json_object_get(edit->body, "tags") && (rc = json_set(edit->body, "tags", json_object())) != 0)
			return rc;
		return append_text(json_object_get(edit->body, "tags"), option == OPT_TAG ? "add" : "remove", arg);
	}
	if (!eq || eq == arg)
		return err_set(-EINVAL, "--attr takes NAME=VALUE (NAME= removes the attribute), not '%s'", arg);
	if (!(attrs = json_object_get(edit->body, "attributes")) &&
	    ((rc = json_set(edit->body, "attributes", json_object())) != 0 ||
	     !(attrs = json_object_get(edit->body, "attributes"))))
		return -ENOMEM;
	if (!(name = strndup(arg, (size_t)(eq - arg))))
		return err_set(-ENOMEM, "out of memory");
	value = NULL;
	rc = eq[1] ? json_text_new(eq + 1, &value) : 0;
	if (rc == 0)
		rc = json_set(attrs, name, value ? value : json_null());
	free(name);
	return rc;
}

static int host_option(void *ctx, int option, const char *arg)
{
	struct host_edit *edit = ctx;
	json_t *body = edit->body;
	int rc;

	switch (option) {
	case OPT_HOSTNAME:
		return json_set_text(body, "hostname", arg);
	case OPT_NEXT_BOOT:
		if ((rc = check_lifecycle("--next-boot", arg, false)) != 0)
			return rc;
		return json_set_text(body, "next_boot", arg);
	case OPT_IMAGE:
		return json_set_text(body, "image", arg);
	case OPT_NO_IMAGE:
		return json_set(body, "image", json_null());
	case OPT_ONCE:
		return json_set(body, "once", json_true());
	case OPT_ALWAYS:
		return json_set(body, "once", json_false());
	case OPT_STATUS:
		if ((rc = check_lifecycle("--status", arg, true)) != 0)
			return rc;
		return json_set_text(body, "status", arg);
	case OPT_NO_SSH_KEYS:
		return json_set(body, "ssh_authorized_keys", json_array());
	case OPT_SSH_KEY:
		/* Each --ssh-key adds to the list; the list replaces the host's keys. */
		return append_text(body, "ssh_authorized_keys", arg);
	case OPT_TAG:
	case OPT_UNTAG:
	case OPT_ATTR:
		return label_option(edit, option, arg);
	case OPT_ACK_DRIFT:
		return json_set(body, "drift", json_null());
	case OPT_BMC:
		return bmc_url_option(body, arg);
	case OPT_BMC_PASSWORD_FILE:
		return bmc_password_option(body, arg);
	case OPT_NO_BMC:
		return json_set(body, "bmc", json_null());
	case OPT_BMC_INSECURE:
		return bmc_insecure_option(body);
	case OPT_BMC_ENROLL:
		return json_set(body, "bmc_enroll", json_true());
	case OPT_NO_BMC_ENROLL:
		return json_set(body, "bmc_enroll", json_false());
	default:
		return install_option(edit, option, arg);
	}
}

/* Prints the one-line confirmation of a change to @host, or with --json the host. */
static void print_host_change(const struct ctl *ctl, const char *done, const json_t *host)
{
	if (ctl->json) {
		print_json(host);
		return;
	}
	printf("%s host %" JSON_INTEGER_FORMAT " ", done,
	       json_integer_value(json_object_get(host, "id")));
	print_text(json_text(host, "hostname"), 0);
	printf(": status %s, next boot %s%s, image ", json_text(host, "status"),
	       json_text(host, "next_boot"),
	       json_is_true(json_object_get(host, "once")) ? " (once)" : "");
	print_text(json_text(host, "image"), 0);
	putchar('\n');
}

/* Prints "@name: @value" with the values aligned; @name is shorter than FIELD_NAME_WIDTH. */
static void print_field(const char *name, const char *value)
{
	size_t len = strlen(name);

	printf("%s:%*s", name, len < FIELD_NAME_WIDTH ? (int)(FIELD_NAME_WIDTH - len) : 1, "");
	print_text(value, 0);
	putchar('\n');
}

/* Prints one line per NIC of @nics: name and MAC, and the switch port its LLDP named
 * ("switch leaf-3 port Ethernet12 vlan 12"; the chassis ID when the switch sent no name). */
static void print_nics(const json_t *nics)
{
	const json_t *nic;
	size_t i;

	json_array_foreach(nics, i, nic) {
		const json_t *lldp = json_object_get(nic, "lldp");
		json_int_t vlan = json_integer_value(json_object_get(lldp, "vlan"));

		printf("nic:%*s", FIELD_NAME_WIDTH - 3, "");
		print_text(json_text(nic, "name"), 0);
		putchar(' ');
		print_text(json_text(nic, "mac"), 0);
		if (json_is_object(lldp)) {
			fputs(", switch ", stdout);
			print_text(json_string_value(json_object_get(lldp, "switch")) ?
				   json_text(lldp, "switch") : json_text(lldp, "chassis_id"), 0);
			fputs(" port ", stdout);
			print_text(json_text(lldp, "port"), 0);
			if (vlan > 0)
				printf(" vlan %" JSON_INTEGER_FORMAT, vlan);
		}
		putchar('\n');
	}
}

/* Prints a few facts of a host's @inventory: CPU, memory, disks, NICs, firmware. */
static void print_inventory(const json_t *inventory)
{
	const json_t *cpu = json_object_get(inventory, "cpu");
	const json_t *memory = json_object_get(json_object_get(inventory, "memory"), "total_bytes");
	const json_t *disks = json_object_get(inventory, "disks");
	json_int_t threads = json_integer_value(json_object_get(cpu, "threads"));
	char text[64];

	print_field("cpu", json_text(cpu, "model"));
	if (threads > 0) {
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, threads);
		print_field("cpu threads", text);
	}
	if (json_is_integer(memory)) {
		snprintf(text, sizeof(text), "%.1f GiB",
			 (double)json_integer_value(memory) / (1024.0 * 1024 * 1024));
		print_field("memory", text);
	}
	if (json_is_array(disks)) {
		snprintf(text, sizeof(text), "%zu", json_array_size(disks));
		print_field("disks", text);
	}
	print_nics(json_object_get(inventory, "nics"));
	print_field("firmware", json_text(inventory, "firmware"));
}

/* "@prefix ADDRESSES, gateway G, gateway G6, ipv6 M, dns D...": a network's static parts (a
 * static network's, or the IPv6 beside DHCP), into text. */
static const char *network_text(const json_t *network, const char *prefix, char *text, size_t size)
{
	size_t len = (size_t)snprintf(text, size, "%s", prefix);
	static const char *const gateways[] = { "gateway", "gateway6" };
	json_t *value;
	size_t i;

	if (json_object_get(network, "address") && len < size)
		len += (size_t)snprintf(text + len, size - len, " %s", json_text(network, "address"));
	json_array_foreach(json_object_get(network, "addresses"), i, value)
		if (len < size)
			len += (size_t)snprintf(text + len, size - len, " %s", json_string_value(value) ?
						json_string_value(value) : "?");
	for (i = 0; i < 2; i++)
		if (json_object_get(network, gateways[i]) && len < size)
			len += (size_t)snprintf(text + len, size - len, ", gateway %s", json_text(network, gateways[i]));
	if (json_object_get(network, "ipv6") && len < size)
		len += (size_t)snprintf(text + len, size - len, ", ipv6 %s", json_text(network, "ipv6"));
	json_array_foreach(json_object_get(network, "dns"), i, value)
		if (len < size)
			len += (size_t)snprintf(text + len, size - len, "%s%s", i ? " " : ", dns ",
						json_string_value(value) ? json_string_value(value) : "?");
	return text;
}

/* Prints a host's @install settings, each with what it means when not set. */
static void print_install(const json_t *install, const json_t *secrets)
{
	const json_t *disk = json_object_get(install, "disk"), *network = json_object_get(install, "network");
	const json_t *user_data = json_object_get(install, "cloud_init_user_data");
	const char *key, *mode = json_string_value(json_object_get(network, "mode"));
	json_t *value;
	char text[512], size[16];

	strcpy(text, "the largest non-removable disk (default)");
	json_object_foreach((json_t *)disk, key, value)
		snprintf(text, sizeof(text), "%s=%s", key, json_string_value(value) ? json_string_value(value) : "?");
	print_field("disk", text);
	if (mode && strcmp(mode, "static") == 0) {
		print_field("network", network_text(network, "static", text, sizeof(text)));
	} else if (json_array_size(json_object_get(network, "addresses"))) {
		print_field("network", network_text(network, "DHCP, static", text, sizeof(text)));
	} else {
		print_field("network", "DHCP (default)");
	}
	print_field("root password", json_object_get(install, "root_password_hash") ? "set (a crypt(3) hash)" : "-");
	if (json_is_string(user_data)) {
		/* anemosd shows the user-data (it may hold secrets) only as its size */
		format_size(size, sizeof(size),
			    (size_t)json_integer_value(json_object_get(json_object_get(secrets, "cloud_init_user_data"), "bytes")));
		snprintf(text, sizeof(text), "%s of cloud-init user-data", size);
		print_field("user-data", text);
	} else {
		print_field("user-data", "-");
	}
	print_field("kernel args", json_text(install, "kernel_args"));
	print_field("after", json_object_get(install, "after") ? json_text(install, "after") : "reboot (default)");
	print_field("mirror", json_text(install, "mirror"));
}

/* The host's tags on one line, and each attribute as "NAME = VALUE". */
static void print_labels(const json_t *host)
{
	const json_t *attrs = json_object_get(host, "attributes"), *value;
	char *tags = join_texts(json_object_get(host, "tags"), " "), name[96];
	const char *key;

	print_field("tags", tags && *tags ? tags : "none");
	free(tags);
	json_object_foreach((json_t *)attrs, key, value) {
		snprintf(name, sizeof(name), "attr %s", key);
		print_field(name, json_string_value(value));
	}
}

/* The hardware changes anemosd saw between the host's inventories, until acknowledged. */
static void print_drift(const json_t *host)
{
	const json_t *drift = json_object_get(host, "drift"), *c;
	size_t i;

	if (!json_array_size(drift)) {
		print_field("hardware", "as first reported (no change seen)");
		return;
	}
	json_array_foreach((json_t *)drift, i, c) {
		const char *what = json_string_value(json_object_get(c, "what"));
		char text[600];

		if (what)
			snprintf(text, sizeof(text), "%s %s: %s", json_text(c, "part"), json_text(c, "change"), what);
		else
			snprintf(text, sizeof(text), "%s %s: %s -> %s", json_text(c, "part"), json_text(c, "change"),
				 json_text(c, "was"), json_text(c, "now"));
		print_field("hardware change", text);
	}
	printf("%*s(anemosctl host set REF --ack-drift acknowledges them)\n", FIELD_NAME_WIDTH + 1, "");
}

/* Prints the host's BMC (never a password: anemosd has none to show), the BMC its inventory
 * found in-band, an enroll asked for, and the power state. */
static void print_power(const json_t *host)
{
	const json_t *bmc = json_object_get(host, "bmc"), *power = json_object_get(host, "power");
	const json_t *found = json_object_get(json_object_get(host, "inventory"), "bmc");
	const json_t *enroll = json_object_get(host, "bmc_enroll");
	char text[400];

	if (json_is_object(found)) {
		snprintf(text, sizeof(text), "%s, MAC %s (%s, channel %" JSON_INTEGER_FORMAT ", %s)",
			 json_text(found, "ip"), json_text(found, "mac"), json_text(found, "ip_source"),
			 json_integer_value(json_object_get(found, "channel")), json_text(found, "interface"));
		print_field("BMC found", text);
	}
	if (json_is_object(enroll)) {
		snprintf(text, sizeof(text), "%s (user %s)%s%s", json_text(enroll, "state"), json_text(enroll, "username"),
			 json_string_value(json_object_get(enroll, "error")) ? ": " : "",
			 json_string_value(json_object_get(enroll, "error")) ? json_text(enroll, "error") : "");
		print_field("BMC enroll", text);
	}
	if (!json_is_object(bmc)) {
		print_field("BMC", "-");
		return;
	}
	snprintf(text, sizeof(text), "%s://%s@%s:%" JSON_INTEGER_FORMAT "%s", json_text(bmc, "protocol"),
		 json_text(bmc, "username"), json_text(bmc, "address"), json_integer_value(json_object_get(bmc, "port")),
		 json_is_true(json_object_get(bmc, "password_set")) ? " (password set)" : "");
	print_field("BMC", text);
	snprintf(text, sizeof(text), "%s (read %s)%s%s", json_text(power, "state"), json_text(power, "checked"),
		 json_string_value(json_object_get(power, "error")) ? ": " : "",
		 json_string_value(json_object_get(power, "error")) ? json_text(power, "error") : "");
	print_field("power", text);
}

/* Prints @host as "name: value" lines. Returns 0 or -ENOMEM (with the message). */
static int print_host(const json_t *host)
{
	const json_t *inventory = json_object_get(host, "inventory");
	char text[64], *macs;

	if (!(macs = join_texts(json_object_get(host, "macs"), ", ")))
		return -ENOMEM;
	snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(host, "id")));
	print_field("id", text);
	print_field("hostname", json_text(host, "hostname"));
	print_field("status", json_text(host, "status"));
	print_field("next boot", json_text(host, "next_boot"));
	print_field("once", json_is_true(json_object_get(host, "once")) ? "yes" : "no");
	print_field("image", json_text(host, "image"));
	print_field("MACs", macs);
	print_field("uuid", json_text(host, "uuid"));
	print_field("serial", json_text(host, "serial"));
	print_field("vendor", json_text(host, "vendor"));
	print_field("product", json_text(host, "product"));
	snprintf(text, sizeof(text), "%zu",
		 json_array_size(json_object_get(host, "ssh_authorized_keys")));
	print_field("SSH keys", text);
	print_labels(host);
	print_drift(host);
	print_install(json_object_get(host, "install"), json_object_get(host, "install_secrets"));
	print_power(host);
	print_field("last seen", json_text(host, "last_seen"));
	print_field("created", json_text(host, "created"));
	print_field("updated", json_text(host, "updated"));
	if (json_is_object(inventory))
		print_inventory(inventory);
	else
		print_field("inventory", "none yet");
	free(macs);
	return 0;
}

/* The words of a search (the shell split it) joined by spaces, URL-escaped, into *out.
 * Returns 0 or -ENOMEM (with the message). */
static int query_words(int n, char **words, char **out)
{
	size_t len = 0;
	char *text;

	for (int i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	if (!(text = malloc(len + 1)))
		return err_set(-ENOMEM, "out of memory");
	text[0] = '\0';
	for (int i = 0; i < n; i++) {
		strcat(text, i ? " " : "");
		strcat(text, words[i]);
	}
	*out = url_escape(text);
	free(text);
	return *out ? 0 : -ENOMEM;
}

#define HOST_PAGE 500 /* hosts asked for at once: a list of 100,000 comes in 200 answers */

/*
 * Appends every host matching @query (escaped, or NULL) to @all, a page of HOST_PAGE at a
 * time (GET /api/v1/hosts?limit=&after=). Returns 0, or what api_call returned.
 */
static int host_list_pages(const struct ctl *ctl, const char *query, json_t *all)
{
	char after[32] = "0";

	for (;;) {
		json_t *answer = NULL;
		const json_t *hosts, *next;
		char *path;
		int rc;

		if (asprintf(&path, "/api/v1/hosts?limit=%d&after=%s%s%s", HOST_PAGE, after, query ? "&q=" : "",
			     query ? query : "") < 0) {
			return err_set(-ENOMEM, "out of memory");
		}
		rc = api_call(ctl, "GET", path, NULL, &answer);
		free(path);
		if (rc == 0 && !(hosts = answer_array(answer, "hosts")))
			rc = -EPROTO;
		if (rc != 0) {
			json_decref(answer);
			return rc;
		}
		json_array_extend(all, (json_t *)hosts);
		next = json_object_get(answer, "next");
		if (!json_is_string(next) || strlen(json_string_value(next)) >= sizeof(after)) {
			json_decref(answer);
			return 0;
		}
		if (!strcmp(after, json_string_value(next))) {
			err_set(-EPROTO, "anemosd gave the same page twice (next %s): the host list stops here", after);
			json_decref(answer);
			return -EPROTO;
		}
		snprintf(after, sizeof(after), "%s", json_string_value(next));
		json_decref(answer);
	}
}

/* What "host list" was told: -o/--columns LIST, --csv. */
struct list_options {
	const char *columns;
	bool csv;
};

static int list_option(void *ctx, int option, const char *arg)
{
	struct list_options *o = ctx;

	if (option == 'o')
		o->columns = arg;
	else
		o->csv = true;
	return 0;
}

int host_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "columns", required_argument, NULL, 'o' },
		{ "csv", no_argument, NULL, OPT_CSV },
		{ NULL, 0, NULL, 0 },
	};
	struct list_options o = { NULL, false };
	json_t *all = json_array();
	char *query = NULL;
	int first, rc;

	if ((first = parse_command(argc, argv, options, list_option, &o, 0, QUERY_MAX_TERMS)) < 0) {
		json_decref(all);
		return first;
	}
	if (first < argc && (rc = query_words(argc - first, argv + first, &query)) != 0) {
		json_decref(all);
		return rc;
	}
	if ((rc = host_list_pages(ctl, query, all)) == 0) {
		if (ctl->json) {
			json_t *answer = json_pack("{s:O}", "hosts", all);

			print_json(answer);
			json_decref(answer);
		} else {
			rc = print_host_list(all, o.columns, o.csv);
		}
	}
	json_decref(all);
	free(query);
	return rc;
}

int host_show(struct ctl *ctl, int argc, char **argv)
{
	json_t *host = NULL;
	char *path;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if (!(path = host_path(argv[first], "")))
		return -ENOMEM;
	if ((rc = api_call(ctl, "GET", path, NULL, &host)) == 0) {
		if (ctl->json)
			print_json(host);
		else
			rc = print_host(host);
	}
	json_decref(host);
	free(path);
	return rc;
}

/*
 * Reads the files @edit names: --root-password-hash-file's hash (one line, which must look
 * like a crypt(3) hash: a password typed into it by mistake is never sent) and
 * --user-data's cloud-init user-data (UTF-8, at most 64 KiB), into edit->install. Returns
 * 0 or a negative errno (with the message).
 */
static int host_edit_read_files(struct host_edit *edit)
{
	char *text = NULL;
	size_t len;
	json_t *value;
	int rc;

	if (edit->hash_file) {
		if ((rc = read_file(edit->hash_file, HASH_FILE_MAX, &text, &len)) != 0)
			return rc;
		while (len > 0 && strchr("\n\r \t", text[len - 1]))
			text[--len] = '\0';
		if (text[0] != '$' || !strchr(text + 1, '$') || len > HASH_MAX || strspn(text, CRYPT_CHARACTERS) != len) {
			rc = err_set(-EBADMSG, "%s does not hold a crypt(3) hash such as $6$SALT$HASH (mkpasswd -m sha-512"
					       " makes one; --root-password-prompt asks for the password and hashes it)",
					       edit->hash_file);
		} else {
			rc = json_set_text(edit->install, "root_password_hash", text);
		}
		explicit_bzero(text, len);
		free(text);
		if (rc != 0)
			return rc;
	}
	if (edit->user_data) {
		if ((rc = read_file(edit->user_data, USER_DATA_MAX, &text, &len)) != 0)
			return rc;
		value = json_stringn(text, len);
		free(text);
		if (!value)
			return err_set(-EBADMSG, "%s is not UTF-8 text without NUL bytes, as cloud-init user-data must be",
						 edit->user_data);
		if ((rc = json_set(edit->install, "cloud_init_user_data", value)) != 0)
			return rc;
	}
	return 0;
}

/* Asks for root's password when --root-password-prompt was given, for the host @whose,
 * into edit->install. Returns 0 or a negative errno (with the message). */
static int host_edit_ask_password(struct host_edit *edit, const char *whose)
{
	char hash[HASH_MAX + 1];
	int rc;

	if (!edit->password_prompt)
		return 0;
	if ((rc = password_prompt_hash(whose, hash, sizeof(hash))) != 0)
		return rc;
	return json_set_text(edit->install, "root_password_hash", hash);
}

/*
 * Beside DHCP a network has static IPv6 only: its first --address moves into "addresses"
 * (anemosd's form for it) and every address and the gateway must be IPv6. Returns 0, or
 * -EINVAL (with the message).
 */
static int dhcp_static_ipv6(json_t *network)
{
	json_t *first = json_object_get(network, "address"), *list, *entry;
	const char *gw = json_string_value(json_object_get(network, "gateway"));
	const char *ipv6 = json_string_value(json_object_get(network, "ipv6"));
	size_t i;

	if (gw && strchr(gw, ':')) {
		json_object_set(network, "gateway6", json_object_get(network, "gateway"));
		json_object_del(network, "gateway");
	} else if (gw) {
		return err_set(-EINVAL, "--network dhcp gets its IPv4 gateway from DHCP (%s): beside DHCP only IPv6 is set "
			       "by hand", gw);
	}
	if (first) {
		if (!(list = json_object_get(network, "addresses")) &&
		    json_object_set_new(network, "addresses", list = json_array()) != 0)
			return -ENOMEM;
		json_array_insert(list, 0, first);
		json_object_del(network, "address");
	}
	json_array_foreach(json_object_get(network, "addresses"), i, entry)
		if (json_string_value(entry) && !strchr(json_string_value(entry), ':'))
			return err_set(-EINVAL, "--network dhcp gets its IPv4 address from DHCP (%s): beside DHCP only IPv6 addresses"
						" are set by hand (or --network static)", json_string_value(entry));
	if (!json_array_size(json_object_get(network, "addresses")) && !(ipv6 && strcmp(ipv6, "dhcp") == 0) &&
	    (json_object_get(network, "gateway6") || json_object_get(network, "dns") ||
	     json_object_get(network, "ipv6"))) {
		return err_set(-EINVAL, "--gateway, --dns and --ipv6 beside DHCP go with an IPv6 --address or --ipv6 dhcp "
			       "(or --network static)");
	}
	return 0;
}

/*
 * Merges the network fields given into @install's "network": --network dhcp starts afresh,
 * anything else changes the host's current settings. The IPv4 address and gateway belong to
 * a static network only; beside DHCP, IPv6 addresses, an IPv6 gateway, DNS servers and --ipv6
 * may be set by hand. Returns 0, -EINVAL (with the message) for IPv4 ones beside DHCP, or -ENOMEM.
 */
static int merge_network(const struct host_edit *edit, json_t *install)
{
	const char *mode = json_string_value(json_object_get(edit->network, "mode"));
	json_t *current = json_object_get(install, "network"), *network;
	int rc;

	if (mode && strcmp(mode, "dhcp") == 0)
		network = json_object();
	else
		network = json_is_object(current) ? json_deep_copy(current) : json_object();
	/* Beside DHCP the addresses are one list: --address replaces it, as --dns does its own. */
	if (network && json_object_get(edit->network, "address") &&
	    !(json_string_value(json_object_get(network, "mode")) &&
	      strcmp(json_string_value(json_object_get(network, "mode")), "static") == 0))
		json_object_del(network, "addresses");
	if (!network || json_object_update(network, edit->network) != 0) {
		json_decref(network);
		return err_set(-ENOMEM, "out of memory");
	}
	mode = json_string_value(json_object_get(network, "mode"));
	if (!mode || strcmp(mode, "static") != 0) {
		if ((rc = dhcp_static_ipv6(network)) != 0) {
			if (rc == -ENOMEM)
				err_set(-ENOMEM, "out of memory");	/* json's, unsaid */
			json_decref(network);
			return rc;
		}
		if (!mode && json_object_size(network) && json_object_set_new(network, "mode", json_string("dhcp")) != 0) {
			json_decref(network);
			return err_set(-ENOMEM, "out of memory");
		}
	}
	return json_set(install, "network", network);
}

/*
 * Sets body's "install" to the install settings @current (a host's, or NULL for none) with
 * the changes of @edit: PATCH replaces a host's settings whole. Returns 0 or a negative
 * errno (with the message).
 */
static int merge_install(struct host_edit *edit, const json_t *current)
{
	json_t *install, *value;
	const char *key;
	int rc;

	install = json_is_object(current) ? json_deep_copy(current) : json_object();
	if (!install)
		return err_set(-ENOMEM, "out of memory");
	json_object_foreach(edit->install, key, value) {
		if (json_is_null(value))
			json_object_del(install, key);
		else if (json_object_set(install, key, value) != 0) {
			json_decref(install);
			return err_set(-ENOMEM, "out of memory");
		}
	}
	if (edit->network && (rc = merge_network(edit, install)) != 0) {
		json_decref(install);
		return rc;
	}
	return json_set(edit->body, "install", install);
}

int host_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "next-boot", required_argument, NULL, OPT_NEXT_BOOT },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "ssh-key", required_argument, NULL, OPT_SSH_KEY },
		LABEL_OPTIONS,
		INSTALL_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct host_edit edit;
	json_t *host = NULL;
	int first, rc;

	if ((rc = host_edit_init(&edit)) != 0)
		return rc;
	if ((first = parse_command(argc, argv, options, host_option, &edit, 1, 1)) < 0) {
		rc = first;
		goto out;
	}
	if ((rc = json_set_text(edit.body, "mac", argv[first])) != 0 ||
	    (host_edit_installs(&edit) &&
	     ((rc = host_edit_read_files(&edit)) != 0 || (rc = host_edit_ask_password(&edit, argv[first])) != 0 ||
	      (rc = merge_install(&edit, NULL)) != 0)) ||
	    (rc = api_call(ctl, "POST", "/api/v1/hosts", edit.body, &host)) != 0)
		goto out;
	print_host_change(ctl, "added", host);
out:
	json_decref(host);
	host_edit_free(&edit);
	return rc;
}

int host_set(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "next-boot", required_argument, NULL, OPT_NEXT_BOOT },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "no-image", no_argument, NULL, OPT_NO_IMAGE },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "always", no_argument, NULL, OPT_ALWAYS },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "ssh-key", required_argument, NULL, OPT_SSH_KEY },
		{ "no-ssh-keys", no_argument, NULL, OPT_NO_SSH_KEYS },
		LABEL_OPTIONS,
		{ "untag", required_argument, NULL, OPT_UNTAG },
		{ "ack-drift", no_argument, NULL, OPT_ACK_DRIFT },
		{ "bmc", required_argument, NULL, OPT_BMC },
		{ "bmc-password-file", required_argument, NULL, OPT_BMC_PASSWORD_FILE },
		{ "no-bmc", no_argument, NULL, OPT_NO_BMC },
		{ "bmc-insecure", no_argument, NULL, OPT_BMC_INSECURE },
		{ "bmc-enroll", no_argument, NULL, OPT_BMC_ENROLL },
		{ "no-bmc-enroll", no_argument, NULL, OPT_NO_BMC_ENROLL },
		INSTALL_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct host_edit edit;
	json_t *current = NULL, *host = NULL;
	char *path = NULL;
	int first, rc;

	if ((rc = host_edit_init(&edit)) != 0)
		return rc;
	if ((first = parse_command(argc, argv, options, host_option, &edit, 1, 1)) < 0) {
		rc = first;
		goto out;
	}
	if (json_object_size(edit.body) == 0 && !host_edit_installs(&edit)) {
		rc = err_set(-EINVAL, "host set: nothing to change; give at least one option");
		goto out;
	}
	if (!(path = host_path(argv[first], ""))) {
		rc = -ENOMEM;
		goto out;
	}
	/* The host first: its settings to merge into, and no password asked for a host that
	 * does not exist. */
	if (host_edit_installs(&edit) &&
	    ((rc = host_edit_read_files(&edit)) != 0 || (rc = api_call(ctl, "GET", path, NULL, &current)) != 0 ||
	     (rc = host_edit_ask_password(&edit, argv[first])) != 0 ||
	     (rc = merge_install(&edit, json_object_get(current, "install"))) != 0))
		goto out;
	if ((rc = api_call(ctl, "PATCH", path, edit.body, &host)) != 0)
		goto out;
	print_host_change(ctl, "updated", host);
out:
	free(path);
	json_decref(current);
	json_decref(host);
	host_edit_free(&edit);
	return rc;
}

int host_rm(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	char *path;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if (!(path = host_path(argv[first], "")))
		return -ENOMEM;
	if ((rc = api_call(ctl, "DELETE", path, NULL, &answer)) == 0 && !ctl->json) {
		fputs("removed host ", stdout);
		print_text(argv[first], 0);
		putchar('\n');
	}
	json_decref(answer);
	free(path);
	return rc;
}

/* What "host events" was told. */
struct events_options {
	int limit;		/* --limit: events shown, 0 for anemosd's default */
	bool follow;		/* --follow */
	long timeout;		/* --timeout: seconds to follow, 0 for no limit */
};

/* Parses @arg as a whole number from 1 to @max into *@value. 0, or -EINVAL (with the message). */
static int parse_count(const char *option, const char *arg, long max, long *value)
{
	char *end;

	errno = 0;
	*value = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || *value < 1 || *value > max)
		return err_set(-EINVAL, "%s must be a number from 1 to %ld (not '%s')", option, max, arg);
	return 0;
}

/* "host events" option handler: fills the struct events_options @ctx. */
static int events_option(void *ctx, int option, const char *arg)
{
	struct events_options *o = ctx;
	long value;
	int rc;

	switch (option) {
	case OPT_LIMIT:
		if ((rc = parse_count("--limit", arg, EVENTS_LIMIT_MAX, &value)) == 0)
			o->limit = (int)value;
		return rc;
	case OPT_FOLLOW:
		o->follow = true;
		return 0;
	case OPT_TIMEOUT:
		return parse_count("--timeout", arg, TIMEOUT_MAX, &o->timeout);
	default:
		return -EINVAL;
	}
}

int host_events(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct events_options o = { 0, false, 0 };
	json_t *answer = NULL;
	const json_t *events, *event;
	char suffix[32] = "/events", *path;
	int first, rc;
	size_t i;

	if ((first = parse_command(argc, argv, options, events_option, &o, 1, 1)) < 0)
		return first;
	if (o.timeout && !o.follow)
		return err_set(-EINVAL, "--timeout goes with --follow");
	if (o.follow)
		return follow_host(ctl, argv[first], o.limit, o.timeout);
	if (o.limit > 0)
		snprintf(suffix, sizeof(suffix), "/events?limit=%d", o.limit);
	if (!(path = host_path(argv[first], suffix)))
		return -ENOMEM;
	if ((rc = api_call(ctl, "GET", path, NULL, &answer)) != 0)
		goto out;
	if (ctl->json) {
		print_json(answer);
	} else if ((events = answer_array(answer, "events"))) {
		json_array_foreach(events, i, event)
			print_event(event);
	} else {
		rc = -EPROTO;
	}
out:
	json_decref(answer);
	free(path);
	return rc;
}

/* True for an event that changed the host: an operator's (enroll, change, SSH reinstall), a
 * discovery rule's, and the lifecycle's own steps (hardware reported, install taken,
 * deployed, a failure). */
static bool history_event(const json_t *event)
{
	const char *source = json_text(event, "source"), *phase = json_text(event, "phase");

	if (!strcmp(source, "operator") || !strcmp(source, "system") || !strcmp(source, "rule"))
		return true;
	if (!strcmp(json_text(event, "level"), "error"))
		return true;
	return !strcmp(source, "server") && (!strcmp(phase, "install") || !strcmp(phase, "inventory"));
}

/* "2026-12-01 15:38:50  alice     next_boot discover → install": when, who, what. */
static void print_history_event(const json_t *event)
{
	const char *time = json_text(event, "time"), *who = json_string_value(json_object_get(event, "actor"));
	char when[32];

	snprintf(when, sizeof(when), "%.10s %.8s", time, strlen(time) > 11 ? time + 11 : "");
	print_text(when, 0);
	fputs("  ", stdout);
	print_text(who ? who : json_text(event, "source"), 12);
	fputs("  ", stdout);
	print_text(json_text(event, "message"), 0);
	putchar('\n');
}

int host_history(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL, *shown;
	const json_t *events, *event;
	char *path;
	int first, rc;
	size_t i;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if (!(path = host_path(argv[first], "/events?limit=1000")))
		return -ENOMEM;
	if ((rc = api_call(ctl, "GET", path, NULL, &answer)) == 0 && !(events = answer_array(answer, "events")))
		rc = -EPROTO;
	if (rc == 0 && ctl->json && (shown = json_array())) {
		json_array_foreach(events, i, event)
			if (history_event(event))
				json_array_append((json_t *)shown, (json_t *)event);
		print_json(shown);
		json_decref(shown);
	} else if (rc == 0) {
		json_array_foreach(events, i, event)
			if (history_event(event))
				print_history_event(event);
	}
	json_decref(answer);
	free(path);
	return rc;
}
