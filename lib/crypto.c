#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto.h"

struct sha256_ctx {
	EVP_MD_CTX *md;
};

static void to_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

struct sha256_ctx *sha256_new(void)
{
	struct sha256_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	ctx->md = EVP_MD_CTX_new();
	if (!ctx->md || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1) {
		sha256_abort(ctx);
		return NULL;
	}
	return ctx;
}

void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len)
{
	EVP_DigestUpdate(ctx->md, data, len);
}

void sha256_finish(struct sha256_ctx *ctx, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char digest[32];
	unsigned int n = 0;

	EVP_DigestFinal_ex(ctx->md, digest, &n);
	to_hex(digest, 32, hex);
	sha256_abort(ctx);
}

void sha256_abort(struct sha256_ctx *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char digest[32];

	EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL);
	to_hex(digest, 32, hex);
}

int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], long long *size)
{
	static const size_t chunk = 1 << 20;
	struct sha256_ctx *ctx;
	long long total = 0;
	char *buf;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(chunk);
	ctx = sha256_new();
	if (!buf || !ctx) {
		rc = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		sha256_update(ctx, buf, (size_t)n);
		total += n;
	}
	sha256_finish(ctx, hex);
	ctx = NULL;
	if (size)
		*size = total;
out:
	sha256_abort(ctx);
	free(buf);
	close(fd);
	return rc;
}

int sha256_hex_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return i == SHA256_HEX_LEN;
}

int random_token(const char *prefix, size_t bytes, char *out, size_t outsz)
{
	unsigned char raw[64];
	size_t plen = strlen(prefix);

	if (bytes > sizeof(raw) || outsz < plen + 2 * bytes + 1)
		return -EINVAL;
	if (RAND_bytes(raw, (int)bytes) != 1)
		return -EIO;
	memcpy(out, prefix, plen);
	to_hex(raw, bytes, out + plen);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}
