/*
 * Secrets kept in the database encrypted (BMC passwords): AES-256-GCM with libcrypto, under
 * a key of its own kept outside the database, in DATA/secret.key (32 random bytes, mode
 * 0600, made on first use). A copy of anemos.db alone thus reveals no password; the key
 * file and the database together do, so backups should keep them apart.
 *
 * Sealed text is "v1:" + base64(nonce[12] | ciphertext | tag[16]). The additional data
 * names what the secret belongs to (e.g. "bmc:42"): a sealed password copied onto another
 * host in the database does not open there.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "anemosd.h"
#include "log.h"

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define SEALED_PREFIX "v1:"

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char key[KEY_LEN];
static bool key_loaded;

/* Reads KEY_LEN bytes of the key file fd into key: 0 or -EIO. */
static int key_read(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || (st.st_mode & 077))
		return err_set(-EACCES, "%s must be mode 0600 (it holds the key of the stored BMC passwords)",
			       path);
	if (read(fd, key, KEY_LEN) != KEY_LEN)
		return err_set(-EIO, "%s is not a key of %d bytes", path, KEY_LEN);
	return 0;
}

/* Makes the key file (O_EXCL: when two make it at once, one wins and the other reads it). */
static int key_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno == EEXIST ? 1 : err_set(-errno, "cannot create %s: %s", path, strerror(errno));
	if (RAND_bytes(key, KEY_LEN) != 1 || write(fd, key, KEY_LEN) != KEY_LEN || fsync(fd) < 0) {
		close(fd);
		unlink(path);
		return err_set(-EIO, "cannot write %s", path);
	}
	close(fd);
	log_info("made %s, the key of the stored BMC passwords", path);
	return 0;
}

/* Loads (or makes) the key once: 0 or -errno with err_set. Takes key_lock. */
static int key_get(void)
{
	char path[PATH_MAX];
	int fd, rc = 0;

	pthread_mutex_lock(&key_lock);
	if (key_loaded)
		goto out;
	snprintf(path, sizeof(path), "%s/secret.key", cfg.data_dir);
	if ((rc = key_create(path)) == 1) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		rc = fd < 0 ? err_set(-errno, "cannot open %s: %s", path, strerror(errno)) : key_read(fd, path);
		if (fd >= 0)
			close(fd);
	}
	key_loaded = rc == 0;
out:
	pthread_mutex_unlock(&key_lock);
	return rc;
}

char *secret_seal(const char *plain, const char *context)
{
	size_t len = strlen(plain), raw_len = NONCE_LEN + len + TAG_LEN;
	unsigned char *raw = malloc(raw_len);
	char *out = malloc(sizeof(SEALED_PREFIX) + 4 * ((raw_len + 2) / 3) + 1);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok = 0, rc;

	if ((rc = key_get()) < 0 || !raw || !out || !c || RAND_bytes(raw, NONCE_LEN) != 1)
		goto done;
	ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, raw) == 1 &&
	     EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)context, (int)strlen(context)) == 1 &&
	     EVP_EncryptUpdate(c, raw + NONCE_LEN, &n, (const unsigned char *)plain, (int)len) == 1 &&
	     EVP_EncryptFinal_ex(c, raw + NONCE_LEN + n, &n) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + NONCE_LEN + len) == 1;
	if (ok) {
		memcpy(out, SEALED_PREFIX, strlen(SEALED_PREFIX));
		EVP_EncodeBlock((unsigned char *)out + strlen(SEALED_PREFIX), raw, (int)raw_len);
	}
done:
	EVP_CIPHER_CTX_free(c);
	free(raw);
	if (!ok) {
		free(out);
		if (rc == 0)
			err_set(-EIO, "cannot encrypt the secret");
		return NULL;
	}
	return out;
}

/* Decodes base64 text into a malloc'd buffer (*len bytes): NULL when it is not base64. */
static unsigned char *base64_decode(const char *text, size_t *len)
{
	size_t tlen = strlen(text);
	unsigned char *raw = tlen % 4 == 0 ? malloc(tlen / 4 * 3 + 1) : NULL;
	int n;

	if (!raw || (n = EVP_DecodeBlock(raw, (const unsigned char *)text, (int)tlen)) < 0) {
		free(raw);
		return NULL;
	}
	*len = (size_t)n - (tlen >= 1 && text[tlen - 1] == '=') - (tlen >= 2 && text[tlen - 2] == '=');
	return raw;
}

char *secret_open(const char *sealed, const char *context)
{
	size_t raw_len = 0;
	unsigned char *raw = NULL;
	char *plain = NULL;
	EVP_CIPHER_CTX *c = NULL;
	int n, len, ok = 0;

	if (key_get() < 0)
		return NULL;
	if (strncmp(sealed, SEALED_PREFIX, strlen(SEALED_PREFIX)) ||
	    !(raw = base64_decode(sealed + strlen(SEALED_PREFIX), &raw_len)) || raw_len < NONCE_LEN + TAG_LEN)
		goto done;
	len = (int)(raw_len - NONCE_LEN - TAG_LEN);
	if (!(plain = malloc((size_t)len + 1)) || !(c = EVP_CIPHER_CTX_new()))
		goto done;
	ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, raw) == 1 &&
	     EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)context, (int)strlen(context)) == 1 &&
	     EVP_DecryptUpdate(c, (unsigned char *)plain, &n, raw + NONCE_LEN, len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + NONCE_LEN + len) == 1 &&
	     EVP_DecryptFinal_ex(c, (unsigned char *)plain + n, &n) == 1;
	if (ok)
		plain[len] = '\0';
done:
	EVP_CIPHER_CTX_free(c);
	free(raw);
	if (!ok) {
		free(plain);
		err_set(-EACCES, "the stored secret does not open with %s/secret.key (another key, or "
			"copied from elsewhere): set it again", cfg.data_dir);
		return NULL;
	}
	return plain;
}

void secret_wipe(char *plain)
{
	if (!plain)
		return;
	OPENSSL_cleanse(plain, strlen(plain));
	free(plain);
}
