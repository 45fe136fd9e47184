/*
 * anemosctl: global options, the command table, usage, and the option parsing that every
 * command shares. A straight line: read switches and global options, find the command,
 * load the token, run the command, report.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "anemosctl.h"
#include "lifecycle.h"

#define DEFAULT_URL	"http://127.0.0.1:8080"
#define TOKEN_MAX	4096	/* longest token accepted from a file, in bytes */

struct command {
	const char *noun;
	const char *verb;
	const char *args;	/* the synopsis after "anemosctl NOUN VERB" */
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

static const struct command commands[] = {
	{ "host", "list", "[QUERY]", host_list },
	{ "host", "show", "REF", host_show },
	{ "host", "add", "MAC [--hostname NAME] [--next-boot ACTION] [--image NAME] [--once]\n"
	  "                 [--ssh-key KEY]...", host_add },
	{ "host", "set", "REF [--next-boot ACTION] [--image NAME | --no-image] [--once | --always]\n"
	  "                 [--hostname NAME] [--status STATUS] [--ssh-key KEY]... [--no-ssh-keys]\n"
	  "                 [--mirror URL | --no-mirror]",
	  host_set },
	{ "host", "rm", "REF", host_rm },
	{ "host", "events", "REF [--limit N]", host_events },
	{ "image", "list", "", image_list },
	{ "image", "add", "FILE|URL|DIR [--name NAME] [--sha256 HEX] [--format FORMAT]", image_add },
	{ "image", "rm", "NAME", image_rm },
	{ "reinstall", "", "HOST --ssh [user@]addr[:port] [--image NAME] [--method auto|kexec|bootloader]\n"
	  "                 [--network auto|dhcp|static]", remote_reinstall },
	{ "rescue", "", "HOST --ssh [user@]addr[:port] [--method ...] [--network ...]", remote_rescue },
	{ "adopt", "", "--ssh [user@]addr[:port] [--host REF] [--inventory PATH]", remote_adopt },
	{ "dnsmasq", "config", "--mode proxy|dhcp --interface IF --server-ip ADDR --server-url URL\n"
	  "                 [--subnet NET | --range START,END [--router ADDR] [--dns ADDR] [--lease TIME]]\n"
	  "                 [--netmask MASK] [--tftp tftp-hpa|dnsmasq] [--tftp-root DIR] [--output FILE]",
	  dnsmasq_config },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The full help, around the lists of lib/lifecycle.h (ACTION, STATUS). */
static const char help_refs[] =
	"\n"
	"REF is a host's id, hostname or any of its MACs.\n";
static const char help_text[] =
	"host set sends only the fields given; --ssh-key replaces the host's keys; --mirror is\n"
	"the Debian mirror a recipe image is built from on this host (install.mirror).\n"
	"\n"
	"image add uploads a local FILE to anemosd, computing its SHA-256 first unless --sha256\n"
	"is given; a URL is recorded as is (targets download from it) and needs --sha256; a\n"
	"recipe folder DIR (with a recipe or IMGBUILD file) becomes a recipe image, which each\n"
	"target builds itself from the recipe's Debian mirror (or the host's install.mirror).\n"
	"FORMAT is tar, tar.gz, tar.xz, tar.zst, raw, raw.gz, raw.xz or raw.zst; by default it\n"
	"comes from the file name's suffix (.img counts as raw), and NAME is the file name\n"
	"without that suffix.\n"
	"\n"
	"reinstall and rescue move a running host (a cloud VM without network boot) into the\n"
	"Anemos environment by kexec, or else a one-shot boot entry, over SSH as root (or with\n"
	"sudo): reinstall installs NAME (default: the host's image), rescue changes no disk.\n"
	"adopt registers a running host's inventory: onto the host --host names (to adopt it\n"
	"again), else as a new host. They use the system's ssh with its\n"
	"config and agent; $ANEMOS_SSH replaces the command (e.g. \"ssh -i KEY\").\n"
	"\n"
	"dnsmasq config prints (or with --output writes) the dnsmasq configuration of a\n"
	"provisioning network; it needs no anemosd. proxy mode answers PXE beside the site's DHCP\n"
	"server (--subnet: the network it serves); dhcp mode hands out --range itself. ADDR is\n"
	"this host's address on IF, where the TFTP server listens; URL is anemosd's public URL.\n"
	"\n"
	"options:\n"
	"  --url URL      anemosd's address (default $ANEMOS_URL, else " DEFAULT_URL ")\n"
	"  --token TOKEN  admin token (default $ANEMOS_TOKEN, else the contents of the file\n"
	"                 named by $ANEMOS_TOKEN_FILE); `anemosd token create --data DIR` makes\n"
	"                 one. Prefer the environment: --token shows in the process list.\n"
	"  --ca FILE      with an https:// URL, the PEM CA certificate(s) anemosd's certificate\n"
	"                 must be signed by (default $ANEMOS_CA, else the system's CAs); the\n"
	"                 certificate is always verified\n"
	"  --json         print the API's JSON answers (nothing for rm, which has none);\n"
	"                 accepted anywhere before --\n"
	"  --help         this text\n"
	"\n"
	"Exit status: 0 done, 1 failed (anemosd unreachable or refusing), 2 wrong command line.\n";

/* Prints the synopsis of every command (and with @full, the whole help) to @out. */
static void usage(FILE *out, int full)
{
	size_t i;

	fprintf(out, "usage: anemosctl [--url URL] [--token TOKEN] [--ca FILE] [--json] COMMAND ...\n\n"
		"commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s%s%s%s%s\n", commands[i].noun, commands[i].verb[0] ? " " : "",
			commands[i].verb, commands[i].args[0] ? " " : "", commands[i].args);
	fprintf(out, "  help\n");
	if (full) {
		char actions[128], statuses[128];

		boot_action_list(actions, sizeof(actions), ", ");
		host_operator_status_list(statuses, sizeof(statuses), ", ");
		fprintf(out, "%sACTION is one of %s.\nSTATUS is one of %s.\n%s", help_refs, actions,
			statuses, help_text);
	}
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
	int c, rc, count;

	optind = 0;		/* glibc: start afresh on this argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options ? options : none, NULL)) != -1) {
		if (c == ':') {
			warnx("%s needs a value", argv[optind - 1]);
			return -EINVAL;
		}
		if (c == '?') {
			if (optopt)
				warnx("unknown option -%c", optopt);
			else
				warnx("unknown option %s", argv[optind - 1]);
			return -EINVAL;
		}
		if ((rc = handle(ctx, c, optarg)) != 0)
			return rc;
	}
	count = argc - optind;
	if (count < min) {
		warnx("missing argument");
		return -EINVAL;
	}
	if (count > max) {
		warnx("unexpected argument '%s'", argv[optind + max]);
		return -EINVAL;
	}
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
 * so only visible ASCII is accepted. Returns 0, -EBADMSG or -ENOMEM, reported.
 */
static int set_token(struct ctl *ctl, const char *token, const char *origin)
{
	const char *p;

	for (p = token; *p; p++) {
		if (*p < 0x21 || *p > 0x7e) {
			warnx("the token from %s contains spaces or control characters", origin);
			return -EBADMSG;
		}
	}
	if (!(ctl->token = strdup(token))) {
		warn("token");
		return -ENOMEM;
	}
	return 0;
}

/* Reads the token from the file @path, without trailing white space. Returns like set_token(). */
static int read_token_file(struct ctl *ctl, const char *path)
{
	char buf[TOKEN_MAX + 1];
	size_t len;
	FILE *file;
	int rc;

	if (!(file = fopen(path, "r"))) {
		rc = -errno;
		warn("cannot read the token file %s ($ANEMOS_TOKEN_FILE)", path);
		return rc;
	}
	len = fread(buf, 1, sizeof(buf) - 1, file);
	rc = ferror(file) ? -EIO : 0;
	fclose(file);
	if (rc != 0) {
		warnx("cannot read the token file %s", path);
		return rc;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		warnx("the token file %s is empty", path);
		return -ENODATA;
	}
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

/* Sets ctl->url from @option, else $ANEMOS_URL, else the default. Returns 0 or -errno, reported. */
static int load_url(struct ctl *ctl, const char *option)
{
	const char *url = option;
	size_t len;

	if (!url && (!(url = getenv("ANEMOS_URL")) || !*url))
		url = DEFAULT_URL;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		warnx("the URL '%s' must start with http:// or https://", url);
		return -EINVAL;
	}
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (!(ctl->url = strndup(url, len))) {
		warn("url");
		return -ENOMEM;
	}
	return 0;
}

/*
 * Sets ctl->ca from @option, else $ANEMOS_CA. A CA only means something for https://: with
 * an http:// URL nothing would be verified, which the operator giving one cannot want.
 * Returns 0 or -EINVAL, reported.
 */
static int load_ca(struct ctl *ctl, const char *option)
{
	const char *ca = option, *env;

	if (!ca && (env = getenv("ANEMOS_CA")) && *env)
		ca = env;
	if (ca && strncmp(ctl->url, "https://", 8) != 0) {
		warnx("%s names a CA, but %s is not an https:// URL: nothing would be verified",
		      option ? "--ca" : "$ANEMOS_CA", ctl->url);
		return -EINVAL;
	}
	ctl->ca = ca;
	return 0;
}

/*
 * Reads --url, --token and --ca, which stand before the command. Returns the index of the
 * command in argv, or -EINVAL (reported).
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
			warnx("%s needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			warnx("unknown option %s", argv[optind - 1]);
			return -EINVAL;
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

/* Runs @command with @ctl ready; prints its usage if the command line was wrong. */
static int run_command(struct ctl *ctl, const struct command *command, int argc, char **argv)
{
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		warnx("cannot initialise libcurl");
		return -ENOMEM;
	}
	rc = command->run(ctl, argc, argv);
	curl_global_cleanup();
	if (rc == -EINVAL)
		fprintf(stderr, "usage: anemosctl %s%s%s%s%s\n", command->noun, command->verb[0] ? " " : "",
			command->verb, command->args[0] ? " " : "", command->args);
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
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { NULL, NULL, 0, NULL };
	const struct command *command;
	const char *url = NULL, *token = NULL, *ca = NULL;
	int help = 0, first, rc;

	argc = take_switches(argc, argv, &ctl.json, &help);
	if (help) {
		usage(stdout, 1);
		return exit_status(0);
	}
	if ((first = parse_globals(argc, argv, &url, &token, &ca)) < 0) {
		usage(stderr, 0);
		return EXIT_USAGE;
	}
	argc -= first;
	argv += first;
	if (argc == 1 && strcmp(argv[0], "help") == 0) {
		usage(stdout, 1);
		return exit_status(0);
	}
	if (!(command = find_command(argc, argv))) {
		if (argc > 0)
			warnx("unknown command '%s%s%s'", argv[0], argc > 1 ? " " : "",
			      argc > 1 ? argv[1] : "");
		usage(stderr, 0);
		return EXIT_USAGE;
	}
	if ((rc = load_url(&ctl, url)) == 0 && (rc = load_ca(&ctl, ca)) == 0 && (rc = load_token(&ctl, token)) == 0)
		rc = command->verb[0] ? run_command(&ctl, command, argc - 1, argv + 1)
				      : run_command(&ctl, command, argc, argv);
	free(ctl.url);
	free(ctl.token);
	return exit_status(rc);
}
