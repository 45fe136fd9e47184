/*
 * anemos-storm: the boot storm load generator (make bench, tests/integration/storm.test.sh).
 *
 *   anemos-storm [options] URL PHASE...
 *
 * Simulates N machines that boot at once over C keep-alive connections (one epoll thread,
 * thousands of connections). Each PHASE is a comma-separated list of steps that every
 * machine runs in order; phases run one after the other, each timed on its own:
 *
 *   boot       GET /boot.ipxe
 *   ipxe       GET /ipxe?mac=..&uuid=..&serial=..&platform=efi; the token the script names
 *              (anemos.token=) is kept for the machine's later steps
 *   kernel     GET the kernel (--kernel PATH, default /boot/vmlinuz)
 *   initrd     GET the initramfs (--initrd PATH, default /boot/initramfs.img)
 *   inventory  POST /api/v1/agent/inventory, an inventory of --inventory-size bytes
 *   plan       GET /api/v1/agent/plan (no wait)
 *
 * Options:
 *   -n N          machines (default 1000)
 *   -c C          connections at once (default 200)
 *   -w K          K more machines that get a token (ipxe) and then long-poll their plan
 *                 (?wait=110) on a connection each while the phases run
 *   -p PREFIX     the second byte of every MAC, in hex (default 43): runs that must not
 *                 meet the machines of another use another prefix
 *   -s BYTES      --inventory-size (default 11000)
 *   -a FILE       acknowledgement log: "script MAC TOKEN" when a script naming a token
 *                 arrived whole, "registered MAC" when an inventory POST was answered 200;
 *                 each line written as it happens (a kill -9 of the server leaves it true)
 *   -k            keep going when the server fails (refused or cut connections count as
 *                 errors; the exit status stays 0)
 *   --kernel PATH, --initrd PATH
 *
 * Output: one line per phase and per step,
 *   storm: phase=ipxe,inventory machines=1000 requests=2000 errors=0 seconds=0.84 req_per_s=2380 MiB_per_s=... p50_ms=.. p99_ms=..
 * Exit status 1 when a request failed (without -k) or the arguments are wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum step { ST_BOOT, ST_IPXE, ST_KERNEL, ST_INITRD, ST_INVENTORY, ST_PLAN, ST_COUNT };
static const char *const step_names[ST_COUNT] = { "boot", "ipxe", "kernel", "initrd", "inventory", "plan" };

struct machine {
	char mac[18];
	char token[128];
};

struct conn {
	int fd;
	long m;          /* machine index, -1: none */
	int si;          /* index into the phase's steps */
	char req[1024];
	size_t reqlen, sent;
	const char *body;
	size_t bodylen;
	char *in;        /* headers, then (for ipxe) the body */
	size_t inlen, incap;
	bool hdr, keep_body, closing;
	int status;
	long long clen, got;
	double t0;
};

struct stats {
	double *lat;
	size_t n, cap;
	long long bytes;
	long errors;
};

static struct sockaddr_storage addr;
static socklen_t addrlen;
static char host_header[256];
static const char *kernel_path = "/boot/vmlinuz", *initrd_path = "/boot/initramfs.img";
static struct machine *machines;
static long nmachines = 1000, nconns = 200, nwaiters;
static unsigned prefix = 0x43;
static size_t inventory_size = 11000;
static char *inventory;
static int ack_fd = -1;
static bool keep_going;

static int steps[ST_COUNT * 2];
static int nsteps;
static long next_machine, last_machine, active;
static struct stats st[ST_COUNT];
static long total_errors;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "anemos-storm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void ack(const char *fmt, const char *a, const char *b)
{
	char line[256];
	int n;

	if (ack_fd < 0)
		return;
	n = snprintf(line, sizeof(line), fmt, a, b);
	if (n > 0 && write(ack_fd, line, (size_t)n) != n)
		die("writing the acknowledgement log");
}

static void stats_add(struct stats *s, double ms)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		if (!(s->lat = realloc(s->lat, s->cap * sizeof(*s->lat))))
			die("out of memory");
	}
	s->lat[s->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double percentile(struct stats *s, double p)
{
	size_t i;

	if (!s->n)
		return 0;
	qsort(s->lat, s->n, sizeof(*s->lat), cmp_double);
	i = (size_t)(p * (double)(s->n - 1) + 0.5);
	return s->lat[i];
}

/* An inventory like the agent's, padded with PCI devices to about `size` bytes. */
static char *make_inventory(size_t size, const char *mac)
{
	char *out = malloc(size + 4096);
	size_t o;
	int dev = 0;

	if (!out)
		die("out of memory");
	o = (size_t)sprintf(out, "{\"firmware\":\"efi\",\"system\":{\"vendor\":\"Bench\",\"product\":\"Storm 1\"},"
			    "\"cpu\":{\"model\":\"Bench CPU @ 2.0GHz\",\"sockets\":2,\"threads\":64},"
			    "\"memory\":{\"total_bytes\":274877906944},"
			    "\"disks\":[{\"name\":\"sda\",\"size_bytes\":960197124096},{\"name\":\"sdb\",\"size_bytes\":960197124096}],"
			    "\"nics\":[{\"name\":\"eth0\",\"mac\":\"%s\"}],\"pci\":[", mac);
	while (o < size) {
		o += (size_t)sprintf(out + o, "%s{\"slot\":\"0000:%02x:%02x.0\",\"vendor\":\"8086\",\"device\":\"%04x\","
				     "\"class\":\"Ethernet controller\",\"driver\":\"ixgbe\"}", dev ? "," : "",
				     dev / 32, dev % 32, 0x1500 + dev);
		dev++;
	}
	strcpy(out + o, "]}");
	return out;
}

static void machine_init(long i)
{
	snprintf(machines[i].mac, sizeof(machines[i].mac), "02:%02x:%02lx:%02lx:%02lx:%02lx", prefix,
		 (i >> 24) & 0xff, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
	machines[i].token[0] = '\0';
}

/* Builds connection c's request for its machine's current step. */
static void request_build(struct conn *c)
{
	struct machine *m = &machines[c->m];
	enum step s = (enum step)steps[c->si];
	const char *path = s == ST_BOOT ? "/boot.ipxe" : s == ST_KERNEL ? kernel_path : initrd_path;
	int n;

	c->body = NULL;
	c->bodylen = 0;
	c->keep_body = s == ST_IPXE;
	if (s == ST_IPXE)
		n = snprintf(c->req, sizeof(c->req), "GET /ipxe?mac=%s&uuid=%08lx-0000-4000-8000-%012x&serial=STORM%02x%08lx"
			     "&manufacturer=Bench&product=Storm%%201&platform=efi HTTP/1.1\r\nHost: %s\r\n\r\n",
			     m->mac, c->m, prefix, prefix, c->m, host_header);
	else if (s == ST_INVENTORY)
		n = snprintf(c->req, sizeof(c->req), "POST /api/v1/agent/inventory HTTP/1.1\r\nHost: %s\r\n"
			     "Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			     host_header, m->token, strlen(inventory));
	else if (s == ST_PLAN)
		n = snprintf(c->req, sizeof(c->req), "GET /api/v1/agent/plan HTTP/1.1\r\nHost: %s\r\n"
			     "Authorization: Bearer %s\r\n\r\n", host_header, m->token);
	else
		n = snprintf(c->req, sizeof(c->req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host_header);
	if (s == ST_INVENTORY) {
		/* the machine's own MAC in its inventory's NIC list */
		memcpy(strstr(inventory, "\"mac\":\"") + 7, m->mac, 17);
		c->body = inventory;
		c->bodylen = strlen(inventory);
	}
	c->reqlen = (size_t)n;
	c->sent = 0;
	c->inlen = 0;
	c->hdr = false;
	c->status = 0;
	c->clen = -1;
	c->got = 0;
	c->t0 = now();
}

/* Opens c's socket and starts its connect: 0, or -errno. */
static int conn_connect(int ep, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.ptr = c };
	int one = 1;

	c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&addr, addrlen) < 0 && errno != EINPROGRESS) {
		int rc = -errno;

		close(c->fd);
		c->fd = -1;
		return rc;
	}
	c->closing = false;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl");
	return 0;
}

/* Gives connection c its next machine (or closes it when none is left). */
static void conn_next_machine(int ep, struct conn *c)
{
	if (next_machine >= last_machine) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		active--;
		return;
	}
	c->m = next_machine++;
	c->si = 0;
	if (c->fd < 0 && conn_connect(ep, c) < 0) {
		st[steps[0]].errors++;
		total_errors++;
		conn_next_machine(ep, c);
		return;
	}
	request_build(c);
}

/* The request failed (status, cut connection): the machine's other steps are skipped. */
static void conn_failed(int ep, struct conn *c, const char *why)
{
	enum step s = (enum step)steps[c->si];

	if (total_errors < 5)
		fprintf(stderr, "anemos-storm: %s %s: %s\n", step_names[s], machines[c->m].mac, why);
	st[s].errors++;
	total_errors++;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	conn_next_machine(ep, c);
}

static void response_done(int ep, struct conn *c)
{
	enum step s = (enum step)steps[c->si];
	struct machine *m = &machines[c->m];
	char why[64];

	stats_add(&st[s], (now() - c->t0) * 1000.0);
	st[s].bytes += c->got;
	if (c->status < 200 || c->status > 299) {
		snprintf(why, sizeof(why), "HTTP status %d", c->status);
		conn_failed(ep, c, why);
		return;
	}
	if (s == ST_IPXE) {
		char *t;

		c->in[c->inlen] = '\0';
		if ((t = strstr(c->in, "anemos.token="))) {
			size_t n = strcspn(t + 13, " \r\n");

			if (n >= sizeof(m->token))
				n = sizeof(m->token) - 1;
			memcpy(m->token, t + 13, n);
			m->token[n] = '\0';
			ack("script %s %s\n", m->mac, m->token);
		}
	} else if (s == ST_INVENTORY) {
		ack("registered %s%s\n", m->mac, "");
	}
	if (c->closing) {
		close(c->fd);
		c->fd = -1;
	}
	if (++c->si == nsteps) {
		conn_next_machine(ep, c);
		return;
	}
	if (c->fd < 0 && conn_connect(ep, c) < 0) {
		conn_failed(ep, c, "cannot connect");
		return;
	}
	request_build(c);
}

static void in_append(struct conn *c, const char *p, size_t n)
{
	if (c->inlen + n + 1 > c->incap) {
		c->incap = (c->inlen + n + 1) * 2;
		if (!(c->in = realloc(c->in, c->incap)))
			die("out of memory");
	}
	memcpy(c->in + c->inlen, p, n);
	c->inlen += n;
}

/* Parses the headers once they are whole; false while they are not (or with a bad answer,
 * then *bad). Leaves the body bytes that came with them counted (and kept for ipxe). */
static bool headers_parse(struct conn *c, bool *bad)
{
	char *end, *p, *body;
	size_t extra;

	c->in[c->inlen] = '\0';
	if (!(end = strstr(c->in, "\r\n\r\n")))
		return false;
	*end = '\0';
	body = end + 4;
	if (sscanf(c->in, "HTTP/1.%*d %d", &c->status) != 1) {
		*bad = true;
		return false;
	}
	for (p = c->in; (p = strchr(p, '\n')); p++) {
		if (!strncasecmp(p + 1, "content-length:", 15))
			c->clen = atoll(p + 16);
		else if (!strncasecmp(p + 1, "connection: close", 17))
			c->closing = true;
		else if (!strncasecmp(p + 1, "transfer-encoding: chunked", 26))
			*bad = true;
	}
	if (c->clen < 0)
		*bad = true;
	if (*bad)
		return false;
	extra = c->inlen - (size_t)(body - c->in);
	memmove(c->in, body, extra);
	c->inlen = c->keep_body ? extra : 0;
	c->got = (long long)extra;
	c->hdr = true;
	return true;
}

/* Sends what is left of c's request: 0, or -errno when the connection is gone. */
static int conn_send(struct conn *c)
{
	while (c->sent < c->reqlen + c->bodylen) {
		struct iovec iov[2];
		int n = 0;
		ssize_t w;

		if (c->sent < c->reqlen)
			iov[n++] = (struct iovec){ c->req + c->sent, c->reqlen - c->sent };
		if (c->bodylen) {
			size_t off = c->sent > c->reqlen ? c->sent - c->reqlen : 0;

			iov[n++] = (struct iovec){ (void *)(c->body + off), c->bodylen - off };
		}
		w = writev(c->fd, iov, n);
		if (w < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->sent += (size_t)w;
	}
	return 0;
}

/* Reads what arrived: 0, or -EPIPE when the connection is gone, -EPROTO when the answer is
 * bad. */
static int conn_recv(int ep, struct conn *c)
{
	static char buf[256 * 1024];

	for (;;) {
		ssize_t r = read(c->fd, buf, sizeof(buf));
		bool bad = false;

		if (r == 0 || (r < 0 && errno != EAGAIN))
			return -EPIPE;
		if (r < 0)
			return 0;
		if (!c->hdr) {
			in_append(c, buf, (size_t)r);
			if (!headers_parse(c, &bad) && bad)
				return -EPROTO;
		} else {
			if (c->keep_body)
				in_append(c, buf, (size_t)r);
			c->got += r;
		}
		if (c->hdr && c->got >= c->clen) {
			int fd = c->fd;

			response_done(ep, c);
			/* a new request on the same socket: send it and read on */
			if (c->fd != fd || c->fd < 0)
				return 0;
			if (conn_send(c) < 0)
				return -EPIPE;
		}
	}
}

static void run_phase(int ep, struct conn *conns, long first, long last)
{
	struct epoll_event evs[256];

	next_machine = first;
	last_machine = last;
	active = 0;
	for (long i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		active++;
		conn_next_machine(ep, &conns[i]);
	}
	while (active > 0) {
		int n = epoll_wait(ep, evs, 256, 1000);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->fd < 0)
				continue;
			if (conn_send(c) < 0 || conn_recv(ep, c) < 0)
				conn_failed(ep, c, "connection cut or bad answer");
		}
	}
}

/* Sets the steps of a phase from "boot,ipxe,...": 0, or -EINVAL (an unknown step said on
 * stderr; this load generator is no Anemos program and prints where it finds the fault). */
static int parse_phase(const char *text)
{
	char copy[256], *tok, *save = NULL;

	snprintf(copy, sizeof(copy), "%s", text);
	nsteps = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int s;

		for (s = 0; s < ST_COUNT && strcmp(tok, step_names[s]); s++)
			;
		if (s == ST_COUNT || nsteps == (int)(sizeof(steps) / sizeof(steps[0]))) {
			fprintf(stderr, "anemos-storm: unknown step %s (boot, ipxe, kernel, initrd, inventory, plan)\n", tok);
			return -EINVAL;
		}
		steps[nsteps++] = s;
	}
	return nsteps ? 0 : -EINVAL;
}

static void report(const char *phase, double secs, long first, long last)
{
	long reqs = 0, errs = 0;
	long long bytes = 0;

	for (int s = 0; s < ST_COUNT; s++) {
		reqs += (long)st[s].n;
		errs += st[s].errors;
		bytes += st[s].bytes;
	}
	printf("storm: phase=%s machines=%ld requests=%ld errors=%ld seconds=%.3f req_per_s=%.0f MiB_per_s=%.1f\n",
	       phase, last - first, reqs, errs, secs, secs > 0 ? (double)reqs / secs : 0,
	       secs > 0 ? (double)bytes / 1048576.0 / secs : 0);
	for (int s = 0; s < ST_COUNT; s++) {
		if (!st[s].n && !st[s].errors)
			continue;
		printf("storm:   step=%s requests=%zu errors=%ld per_s=%.0f p50_ms=%.2f p99_ms=%.2f\n", step_names[s],
		       st[s].n, st[s].errors, secs > 0 ? (double)st[s].n / secs : 0, percentile(&st[s], 0.5),
		       percentile(&st[s], 0.99));
		free(st[s].lat);
		st[s] = (struct stats){ 0 };
	}
	fflush(stdout);
}

/* K long-polling agents, each on a blocking connection of its own that stays open. */
static int *open_waiters(long first, long k, long *opened)
{
	int *fds = calloc((size_t)k + 1, sizeof(int));
	char req[512];

	*opened = 0;
	for (long i = 0; i < k; i++) {
		int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), n;

		fds[i] = -1;
		if (fd < 0 || !machines[first + i].token[0] || connect(fd, (struct sockaddr *)&addr, addrlen) < 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		n = snprintf(req, sizeof(req), "GET /api/v1/agent/plan?wait=110 HTTP/1.1\r\nHost: %s\r\n"
			     "Authorization: Bearer %s\r\n\r\n", host_header, machines[first + i].token);
		if (write(fd, req, (size_t)n) != n) {
			close(fd);
			continue;
		}
		fds[i] = fd;
		(*opened)++;
	}
	return fds;
}

/* How many of the waiters' connections the server has not answered or closed. */
static long waiters_still_waiting(const int *fds, long k)
{
	long n = 0;

	for (long i = 0; i < k; i++) {
		char b;

		if (fds[i] >= 0 && recv(fds[i], &b, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && errno == EAGAIN)
			n++;
	}
	return n;
}

static void parse_url(const char *url)
{
	char hostpart[200], port[16] = "80";
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	const char *p = url, *colon, *slash;

	if (strncmp(p, "http://", 7) != 0) {
		fprintf(stderr, "anemos-storm: URL must be http://HOST:PORT\n");
		exit(1);
	}
	p += 7;
	slash = strchr(p, '/');
	snprintf(host_header, sizeof(host_header), "%.*s", slash ? (int)(slash - p) : (int)strlen(p), p);
	colon = strrchr(host_header, ':');
	snprintf(hostpart, sizeof(hostpart), "%.*s", colon ? (int)(colon - host_header) : (int)strlen(host_header),
		 host_header);
	if (colon)
		snprintf(port, sizeof(port), "%s", colon + 1);
	if (getaddrinfo(hostpart, port, &hints, &ai) != 0) {
		fprintf(stderr, "anemos-storm: cannot resolve %s\n", hostpart);
		exit(1);
	}
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "kernel", required_argument, NULL, 'K' },
						  { "initrd", required_argument, NULL, 'I' }, { 0 } };
	struct rlimit rl;
	struct conn *conns;
	long opened = 0;
	int *waiters = NULL, opt, ep;

	while ((opt = getopt_long(argc, argv, "n:c:w:p:s:a:k", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': nmachines = atol(optarg); break;
		case 'c': nconns = atol(optarg); break;
		case 'w': nwaiters = atol(optarg); break;
		case 'p': prefix = (unsigned)strtoul(optarg, NULL, 16) & 0xff; break;
		case 's': inventory_size = (size_t)atol(optarg); break;
		case 'a':
			if ((ack_fd = open(optarg, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
				die(optarg);
			break;
		case 'k': keep_going = true; break;
		case 'K': kernel_path = optarg; break;
		case 'I': initrd_path = optarg; break;
		default: return 1;
		}
	}
	if (argc - optind < 2 || nmachines < 1 || nconns < 1 || nwaiters < 0) {
		fprintf(stderr, "usage: anemos-storm [-n N] [-c C] [-w K] [-p HEX] [-s BYTES] [-a FILE] [-k] URL PHASE...\n");
		return 1;
	}
	if (nconns > nmachines)
		nconns = nmachines;
	parse_url(argv[optind]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	machines = calloc((size_t)(nmachines + nwaiters), sizeof(*machines));
	conns = calloc((size_t)nconns, sizeof(*conns));
	if (!machines || !conns)
		die("out of memory");
	for (long i = 0; i < nmachines + nwaiters; i++)
		machine_init(i);
	inventory = make_inventory(inventory_size, machines[0].mac);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	if (nwaiters) {
		double t0 = now();

		parse_phase("ipxe");
		run_phase(ep, conns, nmachines, nmachines + nwaiters);
		report("waiters-ipxe", now() - t0, nmachines, nmachines + nwaiters);
		waiters = open_waiters(nmachines, nwaiters, &opened);
		printf("storm: waiters opened=%ld of %ld\n", opened, nwaiters);
	}
	for (int a = optind + 1; a < argc; a++) {
		double t0 = now();

		if (parse_phase(argv[a]) < 0)
			return 1;
		run_phase(ep, conns, 0, nmachines);
		report(argv[a], now() - t0, 0, nmachines);
	}
	if (nwaiters) {
		printf("storm: waiters still_waiting=%ld of %ld\n", waiters_still_waiting(waiters, nwaiters), opened);
		for (long i = 0; i < nwaiters; i++)
			if (waiters[i] >= 0)
				close(waiters[i]);
		free(waiters);
	}
	for (long i = 0; i < nconns; i++)
		free(conns[i].in);
	free(conns);
	free(machines);
	free(inventory);
	close(ep);
	return total_errors && !keep_going ? 1 : 0;
}
