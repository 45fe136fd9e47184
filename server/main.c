/*
 * anemosd: parse options, open the store, load the iPXE templates, serve until SIGINT or
 * SIGTERM. `anemosd token create` makes an admin token instead. Failures before serving are
 * fatal with a message that says what to fix.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anemosd.h"
#include "boot_contract.h"
#include "log.h"

/* Where an installed anemosd's files live when nothing else is found (share_dir). */
#define SHARE_FALLBACK "/usr/share/anemos"

struct config cfg = {
	.listen = "127.0.0.1:8080",
	.data_dir = "var",
	.agent_token_ttl = 3600,
	.phone_home_ttl = 30L * 86400,
	.max_body = 1 << 20,
	.max_inventory_body = 8 << 20,
	.kernel_args = BOOT_CONSOLE_ARGS,
	.max_connections = 4096,
	.max_per_address = 64,
	.header_timeout = 10,
	.max_image_size = 64ULL << 30,
	.bmc_timeout = 10,
	.power_workers = 4,
	.power_poll = 60,
	.webhook_timeout = 10,
	.webhook_attempts = 20,
};

static rlim_t open_file_limit; /* as fd_budget found it, for the log */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: anemosd [options]\n"
		"       anemosd token create --data DIR [--name NAME] [--expires 3600|90m|12h|30d]\n"
		"                            [--role viewer|operator|admin]   (default admin)\n"
		"       anemosd token list --data DIR\n"
		"       anemosd token revoke --data DIR ID|NAME\n"
		"\n"
		"  --listen ADDR:PORT         where to listen (default 127.0.0.1:8080; [::]:8080 for IPv6)\n"
		"  --data DIR                 SQLite database and stored images (default ./var)\n"
		"  --boot-dir DIR             vmlinuz and initramfs.img (default DATA/boot)\n"
		"  --public-url URL           base URL machines use to reach anemosd\n"
		"                             (default http://ADDR:PORT of --listen; required for 0.0.0.0)\n"
		"  --listen-tls ADDR:PORT     also serve HTTPS there (with --tls-cert and --tls-key); the\n"
		"                             dashboard, operator API and /kexec.sh are then HTTPS only\n"
		"  --tls-cert FILE            PEM certificate (chain) of the HTTPS listener\n"
		"  --tls-key FILE             its PEM private key (mode 0600 or stricter)\n"
		"  --operator-url URL         the URL browsers and anemosctl use (default https://ADDR:PORT\n"
		"                             of --listen-tls; required when that is 0.0.0.0 or [::])\n"
		"  --metrics-token-file FILE  /metrics wants \"Authorization: Bearer\" with the token in\n"
		"                             FILE (mode 0600 or stricter; default: /metrics is open)\n"
		"  --web-dir DIR|none         dashboard files served at / (default: the installed\n"
		"                             share/anemos/web, or server/web of the build tree)\n"
		"  --scripts-dir DIR          iPXE script templates (default: share/anemos/ipxe-scripts\n"
		"                             beside the binary, or ipxe-scripts/ of the build tree)\n"
		"  --threads N                worker threads (default 2 per CPU, at least 4)\n"
		"  --agent-token-ttl SECONDS  lifetime of a boot's agent token (default 3600)\n"
		"  --max-body BYTES           request body limit (default 1048576)\n"
		"  --max-inventory-body BYTES inventory body limit (default 8388608)\n"
		"  --max-image-size BYTES     image upload limit; K, M, G, T suffixes (default 64G)\n"
		"  --max-connections N        connections at once (default 4096; lowered to half of\n"
		"                             what the open-file limit leaves after a reserve)\n"
		"  --max-per-address N        connections at once from one address (default 64; 0: any)\n"
		"  --max-waiting N            long-polled agent plans and event streams at once\n"
		"                             (default 3/4 of --max-connections; more get 503)\n"
		"  --header-timeout SECONDS   time a request has to send its headers (default 10)\n"
		"  --unknown-hosts discover|ignore  what machines anemosd does not know boot: the\n"
		"                             Anemos environment to discover them (default), or nothing\n"
		"  --agent-any-address        agent tokens work from any address, not only the one that\n"
		"                             booted (for NAT between racks and anemosd)\n"
		"  --ssh-keys FILE            authorized_keys given to every installed system and rescue\n"
		"  --kernel-args ARGS         extra kernel arguments of the Anemos environment\n"
		"                             (default \"console=tty0 console=ttyS0,115200n8\")\n"
		"  --package-cache URL        apt-cacher-ng (http://ADDR:PORT) through which machines fetch\n"
		"                             http:// Debian mirrors (https:// ones are fetched directly)\n"
		"  --package-cache-log FILE   that cache's apt-cacher.log: its hits and misses in /metrics\n"
		"                             (default: none, and /metrics has no package cache series)\n"
		"  --bmc-timeout SECONDS      time one exchange with a host's BMC may take (default 10)\n"
		"  --power-workers N          calls to BMCs at once (default 4)\n"
		"  --power-poll SECONDS       how often every BMC's power state is read (default 60;\n"
		"                             0: never, only on an operator's action)\n"
		"  --webhook-timeout SECONDS  time one webhook delivery may take (default 10)\n"
		"  --webhook-attempts N       attempts of a webhook delivery before it is marked failed\n"
		"                             (default 20: backoff 1 s, 2 s, 4 s ... 5 min, about an hour)\n"
		"  --log-level LEVEL          error, warn, info (default) or debug\n");
}

static long parse_number(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		log_fatal("%s: '%s' is not a number from %ld to %ld", opt, s, min, max);
	return v;
}

/* A byte count with an optional binary suffix: 512, 64K, 20M, 64G, 1T. */
static uint64_t parse_size(const char *opt, const char *s, uint64_t min)
{
	static const char suffixes[] = "KMGT";
	const char *unit;
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end && !end[1] && (unit = strchr(suffixes, toupper((unsigned char)*end)))) {
		unsigned shift = 10 * (unsigned)(unit - suffixes + 1);

		if (v > (UINT64_MAX >> 1) >> shift)
			errno = ERANGE;
		v <<= shift;
		end++;
	}
	if (errno || *end || end == s || *s == '-' || v < min)
		log_fatal("%s: '%s' is not a size of at least %llu bytes (a number, optionally with K, M, G or T)",
			  opt, s, (unsigned long long)min);
	return v;
}

/* A lifetime: seconds, or a number with s, m, h or d ("30d"); 0 on a bad one. */
static int64_t parse_duration(const char *s)
{
	static const struct { char unit; int64_t seconds; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0 || v > 100LL * 365 * 86400)
		return 0;
	if (!*end)
		return v;
	for (size_t i = 0; !end[1] && i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].unit)
			return v * units[i].seconds;
	return 0;
}

/* anemosd token create|list|revoke: admin tokens, straight in the data folder's store. */
/* `anemosd token list`: one line a token (id, name, role, created, expires). 0 or -errno. */
static int token_list_print(void)
{
	json_t *list = json_array(), *t;
	const char *name, *expires;
	size_t i;
	int rc = db_admin_token_list(list);

	json_array_foreach(list, i, t) {
		name = json_string_value(json_object_get(t, "name"));
		expires = json_string_value(json_object_get(t, "expires"));
		printf("%-6lld %-24s %-8s created %s  expires %s\n", (long long)json_integer_value(json_object_get(t, "id")),
		       name ? name : "-", json_string_value(json_object_get(t, "role")),
		       json_string_value(json_object_get(t, "created")), expires ? expires : "never");
	}
	json_decref(list);
	return rc;
}

static int token_command(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "expires", required_argument, NULL, 'e' },
		{ "role", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = argc > 1 ? argv[1] : "", *name = "admin";
	int64_t ttl = 0;
	enum admin_role role = ROLE_ADMIN;
	char token[128];
	int c, rc;

	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cfg.data_dir = optarg; break;
		case 'n': name = optarg; break;
		case 'e':
			if (!(ttl = parse_duration(optarg)))
				log_fatal("--expires: '%s' is not a lifetime such as 3600, 90m, 12h or 30d", optarg);
			break;
		case 'r':
			if (admin_role_parse(optarg, &role) < 0)
				log_fatal("--role: %s", err_msg());
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (strcmp(verb, "create") && strcmp(verb, "list") && strcmp(verb, "revoke")) {
		fprintf(stderr, "anemosd token: create [--name NAME] [--expires TIME] [--role ROLE], list or revoke ID|NAME (with --data DIR)\n");
		return 2;
	}
	if (!strcmp(verb, "revoke") && optind != argc - 1) {
		fprintf(stderr, "anemosd token revoke: name one token, by its id or its name (anemosd token list)\n");
		return 2;
	}
	log_set_level(LOG_WARN);
	if ((rc = db_init(cfg.data_dir)) < 0)
		log_fatal("%s", err_msg());
	if (!strcmp(verb, "create") && (rc = token_admin_create(name, ttl, role, token, sizeof(token), NULL)) == 0)
		printf("%s\n", token);
	else if (!strcmp(verb, "revoke") && (rc = token_admin_revoke(argv[optind])) == 0)
		printf("revoked\n");
	else if (!strcmp(verb, "list"))
		rc = token_list_print();
	db_shutdown();
	if (rc < 0)
		log_fatal("token %s: %s", verb, err_msg());
	return 0;
}

/* The daemon's command line: getopt_long codes and the table. */
enum { O_LISTEN = 256, O_DATA, O_BOOT, O_URL, O_WEB, O_SCRIPTS, O_THREADS, O_TTL, O_BODY,
       O_INVBODY, O_KARGS, O_LOG, O_KEYS, O_CACHE, O_CACHE_LOG, O_IMAGE_SIZE, O_CONNS,
       O_PER_ADDR, O_WAITING, O_HEADER_TIMEOUT, O_UNKNOWN, O_AGENT_ANY, O_LISTEN_TLS, O_TLS_CERT,
       O_TLS_KEY, O_OPERATOR_URL, O_METRICS_TOKEN, O_BMC_TIMEOUT, O_POWER_WORKERS, O_POWER_POLL,
       O_WEBHOOK_TIMEOUT, O_WEBHOOK_ATTEMPTS };
static const struct option daemon_options[] = {
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "data", required_argument, NULL, O_DATA },
	{ "boot-dir", required_argument, NULL, O_BOOT },
	{ "public-url", required_argument, NULL, O_URL },
	{ "listen-tls", required_argument, NULL, O_LISTEN_TLS },
	{ "tls-cert", required_argument, NULL, O_TLS_CERT },
	{ "tls-key", required_argument, NULL, O_TLS_KEY },
	{ "operator-url", required_argument, NULL, O_OPERATOR_URL },
	{ "metrics-token-file", required_argument, NULL, O_METRICS_TOKEN },
	{ "web-dir", required_argument, NULL, O_WEB },
	{ "scripts-dir", required_argument, NULL, O_SCRIPTS },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "agent-token-ttl", required_argument, NULL, O_TTL },
	{ "max-body", required_argument, NULL, O_BODY },
	{ "max-inventory-body", required_argument, NULL, O_INVBODY },
	{ "max-image-size", required_argument, NULL, O_IMAGE_SIZE },
	{ "max-connections", required_argument, NULL, O_CONNS },
	{ "max-per-address", required_argument, NULL, O_PER_ADDR },
	{ "max-waiting", required_argument, NULL, O_WAITING },
	{ "header-timeout", required_argument, NULL, O_HEADER_TIMEOUT },
	{ "unknown-hosts", required_argument, NULL, O_UNKNOWN },
	{ "agent-any-address", no_argument, NULL, O_AGENT_ANY },
	{ "kernel-args", required_argument, NULL, O_KARGS },
	{ "ssh-keys", required_argument, NULL, O_KEYS },
	{ "package-cache", required_argument, NULL, O_CACHE },
	{ "package-cache-log", required_argument, NULL, O_CACHE_LOG },
	{ "log-level", required_argument, NULL, O_LOG },
	{ "bmc-timeout", required_argument, NULL, O_BMC_TIMEOUT },
	{ "power-workers", required_argument, NULL, O_POWER_WORKERS },
	{ "power-poll", required_argument, NULL, O_POWER_POLL },
	{ "webhook-timeout", required_argument, NULL, O_WEBHOOK_TIMEOUT },
	{ "webhook-attempts", required_argument, NULL, O_WEBHOOK_ATTEMPTS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void parse_options(int argc, char **argv)
{
	int c, level;

	while ((c = getopt_long(argc, argv, "h", daemon_options, NULL)) != -1) {
		switch (c) {
		case O_LISTEN: cfg.listen = optarg; break;
		case O_DATA: cfg.data_dir = optarg; break;
		case O_BOOT: cfg.boot_dir = optarg; break;
		case O_URL: cfg.public_url = optarg; cfg.public_url_given = true; break;
		case O_LISTEN_TLS: cfg.listen_tls = optarg; break;
		case O_TLS_CERT: cfg.tls_cert_file = optarg; break;
		case O_TLS_KEY: cfg.tls_key_file = optarg; break;
		case O_OPERATOR_URL: cfg.operator_url = optarg; break;
		case O_METRICS_TOKEN: cfg.metrics_token_file = optarg; break;
		case O_WEB: cfg.web_dir = strcmp(optarg, "none") == 0 ? "" : optarg; break;
		case O_SCRIPTS: cfg.scripts_dir = optarg; break;
		case O_THREADS: cfg.threads = (unsigned)parse_number("--threads", optarg, 1, 1024); break;
		case O_TTL: cfg.agent_token_ttl = parse_number("--agent-token-ttl", optarg, 1, 30L * 86400); break;
		case O_BODY: cfg.max_body = (size_t)parse_number("--max-body", optarg, 1024, 1L << 30); break;
		case O_INVBODY:
			cfg.max_inventory_body = (size_t)parse_number("--max-inventory-body", optarg, 1024, 1L << 30);
			break;
		case O_IMAGE_SIZE: cfg.max_image_size = parse_size("--max-image-size", optarg, 1024); break;
		case O_CONNS: cfg.max_connections = (unsigned)parse_number("--max-connections", optarg, 16, 1L << 20); break;
		case O_PER_ADDR: cfg.max_per_address = (unsigned)parse_number("--max-per-address", optarg, 0, 1L << 20); break;
		case O_WAITING: cfg.max_waiting = (unsigned)parse_number("--max-waiting", optarg, 1, 1L << 20); break;
		case O_HEADER_TIMEOUT:
			cfg.header_timeout = (unsigned)parse_number("--header-timeout", optarg, 1, 600);
			break;
		case O_UNKNOWN:
			if (strcmp(optarg, "discover") && strcmp(optarg, "ignore"))
				log_fatal("--unknown-hosts: '%s' is not discover or ignore", optarg);
			cfg.unknown_hosts_ignore = strcmp(optarg, "ignore") == 0;
			break;
		case O_AGENT_ANY: cfg.agent_any_address = true; break;
		case O_KARGS: cfg.kernel_args = optarg; break;
		case O_KEYS: cfg.ssh_keys_file = optarg; break;
		case O_CACHE: cfg.package_cache = optarg; break;
		case O_CACHE_LOG: cfg.package_cache_log = optarg; break;
		case O_BMC_TIMEOUT: cfg.bmc_timeout = (unsigned)parse_number("--bmc-timeout", optarg, 1, 120); break;
		case O_POWER_WORKERS: cfg.power_workers = (unsigned)parse_number("--power-workers", optarg, 1, 64); break;
		case O_POWER_POLL: cfg.power_poll = (unsigned)parse_number("--power-poll", optarg, 0, 86400); break;
		case O_WEBHOOK_TIMEOUT:
			cfg.webhook_timeout = (unsigned)parse_number("--webhook-timeout", optarg, 1, 120);
			break;
		case O_WEBHOOK_ATTEMPTS:
			cfg.webhook_attempts = (unsigned)parse_number("--webhook-attempts", optarg, 1, 1000);
			break;
		case O_LOG:
			if ((level = log_level_parse(optarg)) < 0)
				log_fatal("--log-level: '%s' is not error, warn, info or debug", optarg);
			log_set_level((enum log_level)level);
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		log_fatal("unexpected argument '%s' (see anemosd --help)", argv[optind]);
}

static bool listens_everywhere(const char *listen)
{
	return !strncmp(listen, "0.0.0.0:", 8) || !strncmp(listen, "[::]:", 5);
}

/* Drops the trailing '/' of *url, copying it into *owned (freed by the caller) if needed. */
static void url_trim(const char **url, char **owned)
{
	size_t len = strlen(*url);

	if (!len || (*url)[len - 1] != '/')
		return;
	if (!*owned && !(*owned = strdup(*url)))
		log_fatal("out of memory");
	(*owned)[len - 1] = '\0';
	*url = *owned;
}

/* The HTTPS listener's options go together; operators reach it by --operator-url. */
static void derive_tls_defaults(char **operator_url)
{
	if (!cfg.listen_tls != !cfg.tls_cert_file || !cfg.listen_tls != !cfg.tls_key_file)
		log_fatal("--listen-tls, --tls-cert and --tls-key go together: give all three for HTTPS");
	if (cfg.listen_tls) {
		cfg.tls_threads = cfg.threads / 2 > 2 ? cfg.threads / 2 : 2;
		if (!cfg.operator_url && listens_everywhere(cfg.listen_tls))
			log_fatal("--listen-tls %s listens on every address: say which name operators use with "
				  "--operator-url https://NAME:PORT (the certificate's name)", cfg.listen_tls);
		if (!cfg.operator_url) {
			if (asprintf(operator_url, "https://%s", cfg.listen_tls) < 0)
				log_fatal("out of memory");
			cfg.operator_url = *operator_url;
		}
		if (strncmp(cfg.operator_url, "https://", 8))
			log_fatal("--operator-url must be an https:// URL with --listen-tls: the operator "
				  "API is served over HTTPS only then");
	}
	if (cfg.operator_url && strncmp(cfg.operator_url, "http://", 7) && strncmp(cfg.operator_url, "https://", 8))
		log_fatal("--operator-url must start with http:// or https://");
	if (cfg.operator_url)
		url_trim(&cfg.operator_url, operator_url);
}

/* Fills in the defaults that depend on other options. Returns strings the caller frees. */
/*
 * The folder of anemosd's own files `what` ("ipxe-scripts", "web") that follows the
 * binary, not the tree it was compiled in: installed under a prefix (PREFIX/bin/anemosd),
 * PREFIX/share/anemos/WHAT; run from a build tree (build/anemosd, build/asan/anemosd), the
 * source tree's folder (src, relative to the tree: "ipxe-scripts", "server/web"), found by
 * walking up from the binary; else SHARE_FALLBACK/WHAT. Malloc'd into *keep.
 */
static const char *share_dir(const char *what, const char *src, char **keep)
{
	char exe[PATH_MAX], try[PATH_MAX + 64], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;

	*keep = NULL;
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')))
			*slash = '\0';
		snprintf(try, sizeof(try), "%s/../share/anemos/%s", exe, what);
		for (int up = 0; up < 4; up++) {
			if (stat(try, &st) == 0 && S_ISDIR(st.st_mode))
				return *keep = realpath(try, NULL);
			if (!(slash = strrchr(exe, '/')))
				break;
			snprintf(try, sizeof(try), "%s/%s", exe, src);
			*slash = '\0';
		}
	}
	if (asprintf(keep, "%s/%s", SHARE_FALLBACK, what) < 0)
		log_fatal("out of memory");
	return *keep;
}

static void derive_defaults(char **boot_dir, char **public_url, char **operator_url)
{
	static char *scripts_keep, *web_keep;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (!cfg.threads)
		cfg.threads = ncpu > 2 ? (unsigned)(2 * ncpu) : 4;
	if (!cfg.scripts_dir)
		cfg.scripts_dir = share_dir("ipxe-scripts", "ipxe-scripts", &scripts_keep);
	if (!cfg.web_dir)
		cfg.web_dir = share_dir("web", "server/web", &web_keep);
	else if (!*cfg.web_dir)
		cfg.web_dir = NULL; /* --web-dir none */
	if (!cfg.boot_dir) {
		if (asprintf(boot_dir, "%s/boot", cfg.data_dir) < 0)
			log_fatal("out of memory");
		cfg.boot_dir = *boot_dir;
	}
	if (!cfg.public_url) {
		if (listens_everywhere(cfg.listen))
			log_fatal("--listen %s listens on every address: say which one machines use with "
				  "--public-url http://ADDR:PORT", cfg.listen);
		if (asprintf(public_url, "http://%s", cfg.listen) < 0)
			log_fatal("out of memory");
		cfg.public_url = *public_url;
	}
	if (strncmp(cfg.public_url, "http://", 7) && strncmp(cfg.public_url, "https://", 8))
		log_fatal("--public-url must start with http:// or https://");
	if (!template_value_safe(cfg.public_url))
		log_fatal("--public-url '%s' holds characters iPXE would misread", cfg.public_url);
	if (!template_value_safe(cfg.kernel_args))
		log_fatal("--kernel-args holds characters iPXE would misread ($ \" ' \\ ; | & # { })");
	if (cfg.package_cache && (strncmp(cfg.package_cache, "http://", 7) || !cfg.package_cache[7] ||
				  !template_value_safe(cfg.package_cache)))
		log_fatal("--package-cache '%s' is not an http://ADDR:PORT URL (apt-cacher-ng speaks "
			  "plain HTTP)", cfg.package_cache);
	url_trim(&cfg.public_url, public_url);
	derive_tls_defaults(operator_url);
}

/* Raises the soft open-file limit to the hard one, then keeps the connection limit within
 * it, so that running out of descriptors cannot happen through connections alone: each
 * connection may hold its socket and one file it sends or receives (hence half of what is
 * left), after a reserve for SQLite (a database, its WAL and shared memory per thread's
 * connection, and a few temporary files), libmicrohttpd (an epoll and an event descriptor
 * per thread, the listening socket), the logs and standard streams. The limit is the sum
 * for both listeners when there is an HTTPS one (http_start shares it out). The waiting
 * budget (long polls and event streams) stays below the connection limit, so that /ipxe and
 * file serving always have connections left. */
static void fd_budget(void)
{
	rlim_t threads = (rlim_t)cfg.threads + cfg.tls_threads; /* both listeners' workers */
	rlim_t reserve = 64 + 4 * threads + 4 * (threads + 3), nofile, fit;
	unsigned spare, plain;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_fatal("cannot read the open-file limit: %s", strerror(errno));
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl = raised;
		else
			log_warn("cannot raise the open-file limit from %llu to %llu: %s",
				 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, strerror(errno));
	}
	nofile = rl.rlim_cur == RLIM_INFINITY ? (rlim_t)1 << 30 : rl.rlim_cur;
	if (nofile < reserve + 2 * 16)
		log_fatal("the open-file limit of %llu leaves no room for connections after a reserve of %llu: "
			  "raise it (ulimit -n, systemd LimitNOFILE=)", (unsigned long long)nofile,
			  (unsigned long long)reserve);
	fit = (nofile - reserve) / 2;
	if (cfg.max_connections > fit) {
		log_warn("at most %llu connections fit the open-file limit of %llu (--max-connections %u lowered)",
			 (unsigned long long)fit, (unsigned long long)nofile, cfg.max_connections);
		cfg.max_connections = (unsigned)fit;
	}
	/* The budget is the plain listener's share (http.c gives an HTTPS listener a quarter,
	 * at least 8): at least an eighth of it (and at least 8) never waits, so long polls can
	 * never take every connection booting machines and file downloads need. */
	plain = cfg.max_connections - (!cfg.listen_tls ? 0 : cfg.max_connections / 4 > 8 ? cfg.max_connections / 4 : 8);
	spare = plain / 8 > 8 ? plain / 8 : plain > 16 ? 8 : plain / 2;
	if (!cfg.max_waiting) {
		cfg.max_waiting = plain / 4 * 3;
	} else if (cfg.max_waiting > plain - spare) {
		log_warn("--max-waiting %u lowered to %u: %u of the %u connections stay for booting machines",
			 cfg.max_waiting, plain - spare, spare, plain);
		cfg.max_waiting = plain - spare;
	}
	open_file_limit = nofile;
}

int main(int argc, char **argv)
{
	char *boot_dir = NULL, *public_url = NULL, *operator_url = NULL;
	sigset_t stop;
	int sig;

	if (argc >= 2 && strcmp(argv[1], "token") == 0)
		return token_command(argc - 1, argv + 1);
	parse_options(argc, argv);
	derive_defaults(&boot_dir, &public_url, &operator_url);
	fd_budget();

	/* Workers inherit this mask, so only the main thread's sigwait sees these. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (db_init(cfg.data_dir) < 0)
		log_fatal("%s", err_msg());
	if (templates_load(cfg.scripts_dir) < 0)
		log_fatal("%s (set --scripts-dir)", err_msg());
	if (boot_default_keys_load(cfg.ssh_keys_file) < 0)
		log_fatal("%s", err_msg());
	if (cfg.package_cache_log && access(cfg.package_cache_log, R_OK) < 0)
		log_warn("package cache log %s is not readable yet: /metrics counts it once it is",
			 cfg.package_cache_log);
	if (access(cfg.boot_dir, R_OK | X_OK) < 0)
		log_warn("boot folder %s is not readable: /boot/ will answer 404 until it is", cfg.boot_dir);
	if (power_start() < 0)
		log_fatal("%s", err_msg());
	if (webhooks_start() < 0)
		log_fatal("%s", err_msg());
	if (http_start() < 0)
		log_fatal("%s", err_msg());
	log_info("anemosd listening on %s, public URL %s, data %s, boot files %s, %u threads",
		 cfg.listen, cfg.public_url, cfg.data_dir, cfg.boot_dir, cfg.threads);
	if (cfg.listen_tls)
		log_info("HTTPS on %s for operators (%s), %u threads; the plain listener serves the boot path only",
			 cfg.listen_tls, cfg.operator_url, cfg.tls_threads);
	log_info("at most %u connections (%u from one address, %u waiting), open-file limit %llu",
		 cfg.max_connections, cfg.max_per_address, cfg.max_waiting, (unsigned long long)open_file_limit);

	while (sigwait(&stop, &sig) != 0)
		;
	log_info("signal %d: stopping", sig);
	http_stop();
	webhooks_stop();
	power_stop();
	cache_shutdown();
	db_shutdown();
	templates_free();
	boot_default_keys_free();
	free(boot_dir);
	free(public_url);
	free(operator_url);
	return 0;
}
