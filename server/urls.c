/*
 * The base URL machines and clients are told to use (in boot scripts, kernel command lines,
 * plans, image and phone-home URLs). With --public-url it is that, always. Without it, it is
 * the address each request itself used to reach anemosd (its Host header): a machine behind
 * QEMU's user network reaches a loopback anemosd as http://10.0.2.2:8080, and must be told
 * that address, not 127.0.0.1, which inside the machine is the machine. The Host is taken
 * only when it is an address or a host name with an optional port, nothing an iPXE script or
 * a kernel command line could misread; anything else falls back to the listen address.
 *
 * Each worker thread handles one request at a time (as err.c relies on too), so the
 * request's base is kept per thread, set by http.c when a request starts.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "anemosd.h"

static __thread char base[320];

/* host[:port] with host an IPv4 address or DNS name (letters, digits, '-', '.') or a
 * bracketed IPv6 address, and port 1-65535. */
bool url_host_valid(const char *h)
{
	const char *p = h, *colon;
	size_t n;

	if (!h || !*h || strlen(h) > 255)
		return false;
	if (*p == '[') {
		n = strspn(p + 1, "0123456789abcdefABCDEF:.");
		if (!n || p[1 + n] != ']')
			return false;
		p += n + 2;
	} else {
		n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.");
		if (!n || p[0] == '-' || p[0] == '.')
			return false;
		p += n;
	}
	if (!*p)
		return true;
	if (*p != ':' || !isdigit((unsigned char)p[1]))
		return false;
	colon = p;
	n = strspn(colon + 1, "0123456789");
	if (colon[1 + n] || n > 5)
		return false;
	n = 0;
	for (const char *d = colon + 1; *d; d++)
		n = n * 10 + (size_t)(*d - '0');
	return n >= 1 && n <= 65535;
}

bool url_host_is_address(const char *h)
{
	char addr[64];
	unsigned char buf[16];
	const char *end;

	if (!url_host_valid(h))
		return false;
	if (*h == '[') {
		end = strchr(h, ']');
		snprintf(addr, sizeof(addr), "%.*s", (int)(end - h - 1), h + 1);
		return inet_pton(AF_INET6, addr, buf) == 1;
	}
	end = strchr(h, ':');
	snprintf(addr, sizeof(addr), "%.*s", end ? (int)(end - h) : (int)strlen(h), h);
	return inet_pton(AF_INET, addr, buf) == 1;
}

void public_url_begin(const char *host_header, bool tls)
{
	base[0] = '\0';
	/* A request over TLS reached the operators' listener, which serves no boot files: the
	 * URLs machines are told stay the plain listener's. */
	if (cfg.public_url_given || tls || !url_host_valid(host_header))
		return;
	snprintf(base, sizeof(base), "http://%s", host_header);
}

const char *public_url(void)
{
	return base[0] ? base : cfg.public_url;
}
