/*
 * anemosd: parse options, open the store, load the iPXE templates, serve until SIGINT or
 * SIGTERM. `anemosd token create` makes an admin token instead. Failures before serving are
 * fatal with a message that says what to fix.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anemosd.h"
#include "log.h"

#ifndef ANEMOS_SCRIPTS_DIR
#define ANEMOS_SCRIPTS_DIR "/usr/share/anemos/ipxe-scripts"
#endif

struct config cfg = {
	.listen = "127.0.0.1:8080",
	.data_dir = "var",
	.scripts_dir = ANEMOS_SCRIPTS_DIR,
	.agent_token_ttl = 3600,
	.phone_home_ttl = 30L * 86400,
	.max_body = 1 << 20,
	.max_inventory_body = 8 << 20,
	.kernel_args = "console=tty0 console=ttyS0,115200n8",
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: anemosd [options]\n"
		"       anemosd token create --data DIR [--name NAME]\n"
		"\n"
		"  --listen ADDR:PORT         where to listen (default 127.0.0.1:8080; [::]:8080 for IPv6)\n"
		"  --data DIR                 SQLite database and stored images (default ./var)\n"
		"  --boot-dir DIR             vmlinuz and initramfs.img (default DATA/boot)\n"
		"  --public-url URL           base URL machines use to reach anemosd\n"
		"                             (default http://ADDR:PORT of --listen; required for 0.0.0.0)\n"
		"  --web-dir DIR              dashboard files served at / (default: none)\n"
		"  --scripts-dir DIR          iPXE script templates (default %s)\n"
		"  --threads N                worker threads (default 2 per CPU, at least 4)\n"
		"  --agent-token-ttl SECONDS  lifetime of a boot's agent token (default 3600)\n"
		"  --max-body BYTES           request body limit (default 1048576)\n"
		"  --max-inventory-body BYTES inventory body limit (default 8388608)\n"
		"  --ssh-keys FILE            authorized_keys given to every installed system and rescue\n"
		"  --kernel-args ARGS         extra kernel arguments of the Anemos environment\n"
		"                             (default \"console=tty0 console=ttyS0,115200n8\")\n"
		"  --package-cache URL        apt-cacher-ng (http://ADDR:PORT) through which machines fetch\n"
		"                             http:// Debian mirrors (https:// ones are fetched directly)\n"
		"  --package-cache-log FILE   that cache's apt-cacher.log: its hits and misses in /metrics\n"
		"                             (default: none, and /metrics has no package cache series)\n"
		"  --log-level LEVEL          error, warn, info (default) or debug\n",
		ANEMOS_SCRIPTS_DIR);
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

static int token_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = "admin";
	char token[128];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cfg.data_dir = optarg; break;
		case 'n': name = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_set_level(LOG_WARN);
	if ((rc = db_init(cfg.data_dir)) < 0)
		log_fatal("%s", err_msg());
	if ((rc = token_admin_create(name, token, sizeof(token))) < 0)
		log_fatal("cannot store the token: %s", err_msg());
	db_shutdown();
	printf("%s\n", token);
	return 0;
}

static void parse_options(int argc, char **argv)
{
	enum { O_LISTEN = 256, O_DATA, O_BOOT, O_URL, O_WEB, O_SCRIPTS, O_THREADS, O_TTL, O_BODY,
	       O_INVBODY, O_KARGS, O_LOG, O_KEYS, O_CACHE, O_CACHE_LOG };
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "data", required_argument, NULL, O_DATA },
		{ "boot-dir", required_argument, NULL, O_BOOT },
		{ "public-url", required_argument, NULL, O_URL },
		{ "web-dir", required_argument, NULL, O_WEB },
		{ "scripts-dir", required_argument, NULL, O_SCRIPTS },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "agent-token-ttl", required_argument, NULL, O_TTL },
		{ "max-body", required_argument, NULL, O_BODY },
		{ "max-inventory-body", required_argument, NULL, O_INVBODY },
		{ "kernel-args", required_argument, NULL, O_KARGS },
		{ "ssh-keys", required_argument, NULL, O_KEYS },
		{ "package-cache", required_argument, NULL, O_CACHE },
		{ "package-cache-log", required_argument, NULL, O_CACHE_LOG },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, level;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN: cfg.listen = optarg; break;
		case O_DATA: cfg.data_dir = optarg; break;
		case O_BOOT: cfg.boot_dir = optarg; break;
		case O_URL: cfg.public_url = optarg; break;
		case O_WEB: cfg.web_dir = optarg; break;
		case O_SCRIPTS: cfg.scripts_dir = optarg; break;
		case O_THREADS: cfg.threads = (unsigned)parse_number("--threads", optarg, 1, 1024); break;
		case O_TTL: cfg.agent_token_ttl = parse_number("--agent-token-ttl", optarg, 1, 30L * 86400); break;
		case O_BODY: cfg.max_body = (size_t)parse_number("--max-body", optarg, 1024, 1L << 30); break;
		case O_INVBODY:
			cfg.max_inventory_body = (size_t)parse_number("--max-inventory-body", optarg, 1024, 1L << 30);
			break;
		case O_KARGS: cfg.kernel_args = optarg; break;
		case O_KEYS: cfg.ssh_keys_file = optarg; break;
		case O_CACHE: cfg.package_cache = optarg; break;
		case O_CACHE_LOG: cfg.package_cache_log = optarg; break;
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

/* Fills in the defaults that depend on other options. Returns strings the caller frees. */
static void derive_defaults(char **boot_dir, char **public_url)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t len;

	if (!cfg.threads)
		cfg.threads = ncpu > 2 ? (unsigned)(2 * ncpu) : 4;
	if (!cfg.boot_dir) {
		if (asprintf(boot_dir, "%s/boot", cfg.data_dir) < 0)
			log_fatal("out of memory");
		cfg.boot_dir = *boot_dir;
	}
	if (!cfg.public_url) {
		if (!strncmp(cfg.listen, "0.0.0.0:", 8) || !strncmp(cfg.listen, "[::]:", 5))
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
	len = strlen(cfg.public_url);
	if (len && cfg.public_url[len - 1] == '/') {
		if (!*public_url && !(*public_url = strdup(cfg.public_url)))
			log_fatal("out of memory");
		(*public_url)[len - 1] = '\0';
		cfg.public_url = *public_url;
	}
}

int main(int argc, char **argv)
{
	char *boot_dir = NULL, *public_url = NULL;
	sigset_t stop;
	int sig;

	if (argc >= 3 && strcmp(argv[1], "token") == 0 && strcmp(argv[2], "create") == 0)
		return token_create(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "token") == 0) {
		fprintf(stderr, "anemosd token: the only subcommand is `create --data DIR [--name NAME]`\n");
		return 2;
	}
	parse_options(argc, argv);
	derive_defaults(&boot_dir, &public_url);

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
	if (http_start() < 0)
		log_fatal("%s", err_msg());
	log_info("anemosd listening on %s, public URL %s, data %s, boot files %s, %u threads",
		 cfg.listen, cfg.public_url, cfg.data_dir, cfg.boot_dir, cfg.threads);

	while (sigwait(&stop, &sig) != 0)
		;
	log_info("signal %d: stopping", sig);
	http_stop();
	cache_shutdown();
	db_shutdown();
	templates_free();
	boot_default_keys_free();
	free(boot_dir);
	free(public_url);
	return 0;
}
