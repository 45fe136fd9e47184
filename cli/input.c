/*
 * What anemosctl reads from the operator besides its command line: whole files (cloud-init
 * user-data, a password hash, a program to send), and root's password from the terminal,
 * which is hashed here so that only its crypt(3) hash ever leaves the process.
 */
#include <crypt.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#include "anemosctl.h"

#define READ_CHUNK	65536	/* bytes read at a time from a file */
#define PASSWORD_MAX	1024	/* longest password accepted, in bytes */
#define SALT_BYTES	16	/* random bytes in a SHA-512 crypt salt (it keeps 16 characters) */

int read_file(const char *path, size_t max, char **data, size_t *len)
{
	size_t room = 0, used = 0;
	char *buf = NULL, *grown;
	ssize_t n;
	int fd, rc = 0;

	*data = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	for (;;) {
		if (room - used < READ_CHUNK) {
			room = room ? room * 2 : READ_CHUNK + 1;
			if (!(grown = realloc(buf, room))) {
				rc = err_set(-ENOMEM, "%s: out of memory", path);
				break;
			}
			buf = grown;
		}
		/* One byte of room stays for the terminating NUL. */
		if ((n = read(fd, buf + used, room - used - 1)) < 0) {
			if (errno == EINTR)
				continue;
			rc = err_set(-errno, "reading %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			rc = err_set(-EFBIG, "%s is larger than %zu bytes", path, max);
			break;
		}
	}
	close(fd);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	if (!buf && !(buf = malloc(1)))
		return err_set(-ENOMEM, "%s: out of memory", path);
	buf[used] = '\0';
	*data = buf;
	*len = used;
	return 0;
}

/* SIGINT's handler while a password is read: it only interrupts the read(). */
static void interrupt_read(int sig)
{
	(void)sig;
}

/*
 * Asks @prompt on the terminal @tty (open for reading and writing, its echo off) and reads
 * one line into @buf of @size bytes. Returns 0, -EINTR on Ctrl-C, or another negative
 * errno (with the message).
 */
static int ask_line(int tty, const char *prompt, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	char c;
	int rc = 0;

	if (write(tty, prompt, strlen(prompt)) < 0)
		rc = -errno;
	while (rc == 0 && (n = read(tty, &c, 1)) != 0) {
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (c == '\n' || c == '\r')
			break;
		if (len + 1 >= size) {
			rc = -E2BIG;
			break;
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	if (rc == -E2BIG)
		return err_set(rc, "the password is longer than %zu bytes", size - 1);
	if (rc == -EINTR)
		fputc('\n', stderr);	/* the prompt's line ends */
	else if (rc != 0)
		return err_set(rc, "reading the password from the terminal: %s", strerror(-rc));
	return rc;
}

/*
 * Reads a password twice from the terminal @tty without echoing it, into @first and
 * @again (of @size bytes each). Returns like ask_line(). The terminal's settings are
 * restored whatever happens, Ctrl-C included: it interrupts the read instead of ending the
 * program with the echo off.
 */
static int ask_password(int tty, const char *prompt, char *first, char *again, size_t size)
{
	struct sigaction interrupt = { .sa_handler = interrupt_read }, previous;
	struct termios saved, quiet;
	int rc;

	if (tcgetattr(tty, &saved) != 0)
		return err_set(-errno, "the terminal: %s", strerror(errno));
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	sigemptyset(&interrupt.sa_mask);
	sigaction(SIGINT, &interrupt, &previous);	/* no SA_RESTART: read() returns EINTR */
	/* TCSAFLUSH: what was typed before the prompt, and so echoed, is not taken. */
	if (tcsetattr(tty, TCSAFLUSH, &quiet) != 0) {
		rc = err_set(-errno, "the terminal: %s", strerror(errno));
	} else {
		if ((rc = ask_line(tty, prompt, first, size)) == 0)
			rc = ask_line(tty, "the same again: ", again, size);
		tcsetattr(tty, TCSANOW, &saved);
	}
	sigaction(SIGINT, &previous, NULL);
	return rc;
}

/*
 * Sets @hash (of @size bytes) to the SHA-512 crypt(3) hash of @password, with a
 * salt of SALT_BYTES random bytes. Returns 0, or a negative errno (with the message).
 */
static int hash_password(const char *password, char *hash, size_t size)
{
	unsigned char random[SALT_BYTES];
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	int rc = 0;

	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
		return err_set(-EIO, "getrandom: %s", strerror(errno));
	if (!crypt_gensalt_rn("$6$", 0, (const char *)random, (int)sizeof(random), salt, (int)sizeof(salt)))
		return err_set(-EIO, "making a SHA-512 crypt salt: %s", strerror(errno));
	if (!(data = calloc(1, sizeof(*data))))
		return err_set(-ENOMEM, "out of memory");
	if (!crypt_rn(password, salt, data, (int)sizeof(*data)) || strncmp(data->output, "$6$", 3) != 0) {
		rc = err_set(-EIO, "hashing the password with crypt(3): %s", strerror(errno));
	} else if ((size_t)snprintf(hash, size, "%s", data->output) >= size) {
		rc = err_set(-ENAMETOOLONG, "the password's hash is longer than %zu bytes", size - 1);
	}
	explicit_bzero(data, sizeof(*data));
	free(data);
	explicit_bzero(random, sizeof(random));
	return rc;
}

int password_prompt_hash(const char *whose, char *hash, size_t size)
{
	char first[PASSWORD_MAX + 1], again[PASSWORD_MAX + 1], prompt[160];
	int tty, rc;

	if ((tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return err_set(-ENOTTY, "--root-password-prompt asks on a terminal, and there is none; give a hash with "
					"--root-password-hash-file FILE (mkpasswd -m sha-512 makes one)");
	snprintf(prompt, sizeof(prompt), "root password for %s: ", whose);
	if ((rc = ask_password(tty, prompt, first, again, sizeof(first))) == 0) {
		if (first[0] == '\0') {
			rc = err_set(-ENODATA, "the password is empty; nothing changed");
		} else if (strcmp(first, again) != 0) {
			rc = err_set(-EBADMSG, "the two passwords differ; nothing changed");
		} else {
			rc = hash_password(first, hash, size);
		}
	}
	explicit_bzero(first, sizeof(first));
	explicit_bzero(again, sizeof(again));
	close(tty);
	return rc;
}
