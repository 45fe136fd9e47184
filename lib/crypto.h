/* SHA-256 and random tokens (OpenSSL libcrypto), shared by server, CLI and agent. */
#ifndef ANEMOS_CRYPTO_H
#define ANEMOS_CRYPTO_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

struct sha256_ctx;

/* Streaming SHA-256. sha256_new returns NULL on allocation failure; sha256_finish writes
 * 64 lower-case hex digits and a NUL into hex[65] and frees the context. */
struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_finish(struct sha256_ctx *ctx, char hex[SHA256_HEX_LEN + 1]);
/* Frees a context without finishing it (on error paths). NULL is fine. */
void sha256_abort(struct sha256_ctx *ctx);
/* One-shot SHA-256 of a buffer into hex[65]. */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);
/* Hashes the whole file at path; 0 on success (size in *size if non-NULL), -errno on failure. */
int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], long long *size);
/* True if s is exactly 64 hex digits (either case). */
int sha256_hex_valid(const char *s);

/* Fills out with a prefix and `bytes` random bytes as lower-case hex from the kernel's CSPRNG
 * (OpenSSL RAND_bytes). out must hold strlen(prefix) + 2 * bytes + 1. 0 or -EIO. */
int random_token(const char *prefix, size_t bytes, char *out, size_t outsz);

#endif
