/*
 * The install, as a straight line: pick the disk, partition it for the firmware in use,
 * make the filesystems, stream the image onto them (HTTP → libarchive → disk, SHA-256 on
 * the way), configure the host, install the bootloader, end the boot with anemosd. Once the
 * disk has been touched, any failure wipes its partition tables (both GPT copies and the
 * MBR), so a half-written system never boots, and the host is reported failed with why.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/reboot.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <archive_entry.h>

#include "boot_contract.h"
#include "errors.h"
#include "build.h"
#include "install.h"

#define TARGET "/mnt/target"
#define ESP_MOUNT TARGET "/boot/efi"
#define MBR_BIN "/usr/lib/syslinux/mbr/mbr.bin"
#define SYSTEMD_BOOT "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"
/* Written by initramfs/build.sh: the agent only ever partitions disks inside the Anemos
 * environment, never on a machine that merely runs the binary. */
#define INITRAMFS_MARKER "/etc/anemos-initramfs"

struct target {
	struct agent *a;
	json_t *plan, *settings, *image;
	char disk[80];              /* /dev/NAME */
	uint64_t disk_size;
	bool uefi;
	char esp[96], root[96];     /* partition devices ("" for no ESP) */
	char root_uuid[40], esp_id[10];
	bool touched, root_mounted, esp_mounted;
	int rootfd;                 /* TARGET once mounted (O_PATH), -1 before: every path into it */
	const char *unpack_dir;     /* where a root filesystem archive goes: TARGET, or --unpack's */
	time_t last_progress;
	int64_t total;              /* image size in bytes, -1 unknown */
};

/* A failure of the install: -EIO with the message (errors.h). */
#define failf(t, ...) ((void)(t), err_set(-EIO, __VA_ARGS__))

/* Runs argv (no shell), optionally feeding `input` on its stdin; 0 when it exits 0. */
static int run(struct target *t, const char *const argv[], const char *input)
{
	int pipefd[2] = { -1, -1 }, status;
	pid_t pid;

	if (input && pipe(pipefd) < 0)
		return failf(t, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return failf(t, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (input) {
			dup2(pipefd[0], 0);
			close(pipefd[0]);
			close(pipefd[1]);
		}
		dup2(2, 1);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "anemos-agent: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (input) {
		close(pipefd[0]);
		if (write(pipefd[1], input, strlen(input)) < 0)
			fprintf(stderr, "anemos-agent: writing to %s: %s\n", argv[0], strerror(errno));
		close(pipefd[1]);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return failf(t, "%s failed (exit %d)", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/* The failure of rc on path in the target, with the image's symlink that caused it, if any. */
static int fail_on(struct target *t, const char *what, const char *path, int rc)
{
	char err[TARGET_PATH_MAX + 200];

	return failf(t, "cannot %s %s: %s", what, path, target_strerror(t->rootfd, path, rc, err, sizeof(err)));
}

static int make_dirs(struct target *t, const char *path, mode_t mode)
{
	int rc = target_mkdirs(t->rootfd, path, mode);

	return rc < 0 ? fail_on(t, "make", path, rc) : 0;
}

/* path in the target becomes a new file of mode with the formatted text. */
static int put(struct target *t, const char *path, mode_t mode, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int put(struct target *t, const char *path, mode_t mode, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = target_vprintf(t->rootfd, path, mode, fmt, ap);
	va_end(ap);
	return rc < 0 ? fail_on(t, "write", path, rc) : 0;
}

/* Mounts dev as the target root and opens the root every later path resolves in. */
static int mount_root(struct target *t, const char *dev)
{
	if (mount(dev, TARGET, "ext4", 0, NULL) < 0)
		return -errno;
	t->root_mounted = true;
	if ((t->rootfd = open(TARGET, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		int rc = -errno;

		umount(TARGET);
		t->root_mounted = false;
		return rc;
	}
	return 0;
}

static void random_hex(char *out, size_t digits)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[32];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(rand() ^ time(NULL));
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < digits; i++)
		out[i] = hex[(b[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
	out[digits] = '\0';
}

/* The disk the plan names (serial, by_path or name), else the largest non-removable one. */
static int pick_disk(struct target *t, json_t *inventory)
{
	json_t *want = json_object_get(t->settings, "disk"), *d, *best = NULL;
	const char *key = NULL, *value = NULL;
	size_t i;

	if (json_is_object(want)) {
		key = json_object_iter_key(json_object_iter(want));
		value = json_string_value(json_object_iter_value(json_object_iter(want)));
	}
	json_array_foreach(json_object_get(inventory, "disks"), i, d) {
		json_int_t size = json_integer_value(json_object_get(d, "size_bytes"));

		if (key) {
			const char *have = json_string_value(json_object_get(d, key));

			if (have && value && strcmp(have, value) == 0)
				best = d;
		} else if (!json_is_true(json_object_get(d, "removable")) && size > 0 &&
			   (!best || size > json_integer_value(json_object_get(best, "size_bytes")))) {
			best = d;
		}
	}
	if (!best)
		return key ? failf(t, "no disk with %s %s (see the host's inventory)", key, value)
			   : failf(t, "no non-removable disk to install onto");
	snprintf(t->disk, sizeof(t->disk), "/dev/%s", json_string_value(json_object_get(best, "name")));
	t->disk_size = (uint64_t)json_integer_value(json_object_get(best, "size_bytes"));
	return 0;
}

/* True if the disk, or any partition of it, is mounted or used as swap. */
static bool disk_in_use(const char *disk)
{
	static const char *const tables[] = { "/proc/mounts", "/proc/swaps" };
	char line[1024];
	size_t len = strlen(disk);

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		FILE *f = fopen(tables[i], "re");

		if (!f)
			return true; /* cannot tell: assume the worst */
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, disk, len) == 0) {
				fclose(f);
				return true;
			}
		fclose(f);
	}
	return false;
}

static void partition_path(const char *disk, int n, char *out, size_t outsz)
{
	size_t len = strlen(disk);
	bool digit = len && disk[len - 1] >= '0' && disk[len - 1] <= '9';

	snprintf(out, outsz, "%s%s%d", disk, digit ? "p" : "", n); /* nvme0n1p1, vda1 */
}

/* Waits (bounded) for the kernel to create a partition's device node. */
static int wait_for(struct target *t, const char *dev)
{
	for (int i = 0; i < 100; i++) {
		if (access(dev, F_OK) == 0)
			return 0;
		usleep(100000);
	}
	return failf(t, "%s did not appear after partitioning", dev);
}

static int partition_and_format(struct target *t)
{
	const char *sfdisk[] = { "sfdisk", "--wipe", "always", "--wipe-partitions", "always", "-q", t->disk, NULL };
	char label[16];
	int rc;

	t->touched = true;
	random_hex(t->esp_id, 8);
	random_hex(t->root_uuid, 32);
	memmove(t->root_uuid + 21, t->root_uuid + 20, 13);
	memmove(t->root_uuid + 17, t->root_uuid + 16, 17);
	memmove(t->root_uuid + 13, t->root_uuid + 12, 22);
	memmove(t->root_uuid + 9, t->root_uuid + 8, 27);
	t->root_uuid[8] = t->root_uuid[13] = t->root_uuid[18] = t->root_uuid[23] = '-';
	t->root_uuid[36] = '\0';
	if (t->uefi) {
		if (run(t, sfdisk, "label: gpt\nsize=512MiB, type=U, name=ESP\ntype=L, name=root\n") < 0)
			return -EIO;
		partition_path(t->disk, 1, t->esp, sizeof(t->esp));
		partition_path(t->disk, 2, t->root, sizeof(t->root));
		if (wait_for(t, t->esp) < 0 || wait_for(t, t->root) < 0)
			return -EIO;
		snprintf(label, sizeof(label), "%s", t->esp_id);
		{
			const char *mkfs_vfat[] = { "mkfs.vfat", "-F", "32", "-n", "ESP", "-i", label, t->esp, NULL };
			const char *mkfs_ext4[] = { "mkfs.ext4", "-q", "-F", "-L", "root", "-U", t->root_uuid, t->root, NULL };

			if (run(t, mkfs_vfat, NULL) < 0 || run(t, mkfs_ext4, NULL) < 0)
				return -EIO;
		}
	} else {
		/* BIOS: one bootable ext4 partition for extlinux, without the 64bit feature
		 * that older syslinux releases cannot read. */
		const char *mkfs_ext4[] = { "mkfs.ext4", "-q", "-F", "-O", "^64bit", "-L", "root", "-U", t->root_uuid,
					    t->root, NULL };

		if (run(t, sfdisk, "label: dos\ntype=83, bootable\n") < 0)
			return -EIO;
		partition_path(t->disk, 1, t->root, sizeof(t->root));
		if (wait_for(t, t->root) < 0 || run(t, mkfs_ext4, NULL) < 0)
			return -EIO;
	}
	mkdir("/mnt", 0755);
	mkdir(TARGET, 0755);
	if ((rc = mount_root(t, t->root)) < 0)
		return failf(t, "cannot mount %s: %s", t->root, strerror(-rc));
	if (t->uefi) {
		/* The root was made a moment ago: nothing in it can be a symlink yet. */
		if (make_dirs(t, "/boot/efi", 0755) < 0)
			return -EIO;
		if (mount(t->esp, ESP_MOUNT, "vfat", 0, "umask=0077,codepage=437,iocharset=utf8") < 0)
			return failf(t, "cannot mount %s: %s", t->esp, strerror(errno));
		t->esp_mounted = true;
	}
	return 0;
}

/* Progress: one event a second at most, with bytes, total, percent and rate. */
static void report_progress(struct stream *s)
{
	struct target *t = s->cls;
	time_t now = time(NULL);
	double secs = now > s->started ? (double)(now - s->started) : 1.0;
	char msg[200];
	json_t *ev;

	if (now - t->last_progress < 1)
		return;
	t->last_progress = now;
	if (t->total > 0)
		snprintf(msg, sizeof(msg), "writing image: %.1f of %.1f MiB (%.0f%%), %.1f MiB/s",
			 (double)s->received / 1048576.0, (double)t->total / 1048576.0,
			 100.0 * (double)s->received / (double)t->total, (double)s->received / 1048576.0 / secs);
	else
		snprintf(msg, sizeof(msg), "writing image: %.1f MiB, %.1f MiB/s", (double)s->received / 1048576.0,
			 (double)s->received / 1048576.0 / secs);
	fprintf(stderr, "anemos-agent: %s\n", msg);
	if (!t->a->token[0]) /* --unpack: no server to tell */
		return;
	ev = json_pack("{s:s, s:s, s:s, s:I}", "phase", "install", "level", "info", "message", msg,
		       "bytes", (json_int_t)s->received);
	if (t->total > 0)
		json_object_set_new(ev, "total", json_integer(t->total));
	client_event(t->a, ev, 5, false); /* progress is worth a few seconds, never the install */
	json_decref(ev);
}

/* Copies one entry's data from the archive to the disk writer. */
static int copy_data(struct archive *in, struct archive *out)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
		if (archive_write_data_block(out, buf, len, off) < ARCHIVE_OK)
			return ARCHIVE_FATAL;
	return r == ARCHIVE_EOF ? ARCHIVE_OK : r;
}

/* A root filesystem archive, extracted into TARGET as it streams in. libarchive never writes
 * through a symlink: a member under one (etc/hostname after etc -> /elsewhere) replaces the
 * link with a real folder (SECURE_SYMLINKS with UNLINK), and absolute paths, ".." and hard
 * links to either are refused. The image's symlinks themselves are kept as it has them:
 * every later write resolves them inside the target (target.c). */
static int extract_tree(struct target *t, struct archive *ar)
{
	struct archive *disk = archive_write_disk_new();
	struct archive_entry *entry;
	int r = ARCHIVE_OK;

	archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
				       ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
				       ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_UNLINK |
				       ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
				       ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (chdir(t->unpack_dir) < 0) {
		archive_write_free(disk);
		return failf(t, "chdir %s: %s", t->unpack_dir, strerror(errno));
	}
	while ((r = archive_read_next_header(ar, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (archive_write_header(disk, entry) < ARCHIVE_WARN ||
		    (archive_entry_size(entry) > 0 && copy_data(ar, disk) < ARCHIVE_WARN) ||
		    archive_write_finish_entry(disk) < ARCHIVE_WARN) {
			failf(t, "writing %s: %s", archive_entry_pathname(entry), archive_error_string(disk));
			r = ARCHIVE_FAILED;	/* said: not "reading" below */
			break;
		}
	}
	if (r != ARCHIVE_EOF && r != ARCHIVE_FAILED)
		failf(t, "reading the image: %s", archive_error_string(ar));
	archive_write_free(disk);
	if (chdir("/") < 0)
		return failf(t, "chdir /: %s", strerror(errno));
	return r == ARCHIVE_EOF ? 0 : -EIO;
}

/* A whole-disk image, written block by block onto the disk. */
static int write_raw(struct target *t, struct archive *ar)
{
	struct archive_entry *entry;
	uint64_t off = 0;
	const void *buf;
	size_t len;
	la_int64_t at;
	int fd, r;

	t->touched = true;
	if ((fd = open(t->disk, O_WRONLY | O_CLOEXEC)) < 0)
		return failf(t, "cannot open %s: %s", t->disk, strerror(errno));
	if ((r = archive_read_next_header(ar, &entry)) != ARCHIVE_OK) {
		close(fd);
		return failf(t, "reading the image: %s", archive_error_string(ar));
	}
	while ((r = archive_read_data_block(ar, &buf, &len, &at)) == ARCHIVE_OK) {
		if (off + len > t->disk_size) {
			close(fd);
			return failf(t, "the image is larger than %s (%llu bytes)", t->disk, (unsigned long long)t->disk_size);
		}
		for (size_t done = 0; done < len;) {
			ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

			if (n < 0) {
				close(fd);
				return failf(t, "writing %s: %s", t->disk, strerror(errno));
			}
			done += (size_t)n;
		}
		off += len;
	}
	if (r != ARCHIVE_EOF || fsync(fd) < 0) {
		close(fd);
		return failf(t, "reading the image: %s", archive_error_string(ar));
	}
	ioctl(fd, BLKRRPART);
	close(fd);
	return 0;
}

/* Streams the image, verifying its SHA-256 once the last byte is in. */
static int stream_image(struct target *t)
{
	const char *url = json_string_value(json_object_get(t->image, "url"));
	const char *want = json_string_value(json_object_get(t->image, "sha256"));
	const char *format = json_string_value(json_object_get(t->image, "format"));
	bool raw = format && strncmp(format, "raw", 3) == 0;
	char got[SHA256_HEX_LEN + 1];
	struct archive *ar = archive_read_new();
	struct stream s;
	int rc = -EIO;

	if (!url || !want || !format || !ar) {
		archive_read_free(ar);
		return failf(t, "the plan's image lacks url, sha256 or format");
	}
	t->total = json_is_integer(json_object_get(t->image, "size"))
			   ? json_integer_value(json_object_get(t->image, "size")) : -1;
	archive_read_support_filter_all(ar);
	if (raw)
		archive_read_support_format_raw(ar);
	else
		archive_read_support_format_tar(ar);
	if (stream_open(&s, url) < 0) {
		archive_read_free(ar);
		return failf(t, "out of memory");
	}
	s.progress = report_progress;
	s.cls = t;
	if (archive_read_open(ar, &s, NULL, stream_read, NULL) != ARCHIVE_OK)
		failf(t, "reading the image: %s", s.error[0] ? s.error : archive_error_string(ar));
	else if ((raw ? write_raw(t, ar) : extract_tree(t, ar)) < 0)
		;
	else if (stream_drain(&s) < 0)
		failf(t, "%s", s.error);
	else {
		sha256_finish(s.sha, got);
		s.sha = NULL;
		if (strcasecmp(got, want) != 0)
			failf(t, "SHA-256 mismatch: the image is %s, the plan says %s", got, want);
		else
			rc = 0;
	}
	if (rc < 0 && s.error[0] && !strstr(err_msg(), s.error))
		err_set(rc, "%s (%s)", err_msg(), s.error);
	report_progress(&s);
	fprintf(stderr, "anemos-agent: received %llu bytes in %ld s\n", (unsigned long long)s.received,
		(long)(time(NULL) - s.started));
	archive_read_free(ar);
	stream_close(&s);
	return rc;
}

/* For whole-disk images: mounts the partition that holds a Linux root (it has /etc). */
static int mount_raw_root(struct target *t)
{
	mkdir("/mnt", 0755);
	mkdir(TARGET, 0755);
	for (int n = 1; n <= 16; n++) {
		partition_path(t->disk, n, t->root, sizeof(t->root));
		for (int i = 0; i < 20 && access(t->root, F_OK) < 0; i++)
			usleep(100000);
		if (mount_root(t, t->root) < 0)
			continue;
		if (target_exists(t->rootfd, "/etc"))
			return 0;
		close(t->rootfd);
		t->rootfd = -1;
		umount(TARGET);
		t->root_mounted = false;
	}
	t->root[0] = '\0';
	return failf(t, "the whole-disk image has no ext4 partition with /etc to configure");
}

static void kernel_cmdline(struct target *t, char *out, size_t outsz)
{
	const char *extra = json_string_value(json_object_get(t->settings, "kernel_args"));

	snprintf(out, outsz, "root=UUID=%s rw console=tty0 console=ttyS0,115200n8%s%s", t->root_uuid,
		 extra && *extra ? " " : "", extra ? extra : "");
}

/* Copies from (a file of the target, or of the installer) into the target as path. */
static int copy_in(struct target *t, const char *from, bool in_target, const char *path)
{
	int fd = in_target ? target_open(t->rootfd, from, O_RDONLY, 0) : open(from, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return in_target ? fail_on(t, "read", from, fd) : failf(t, "cannot read %s: %s", from, strerror(errno));
	rc = target_copy(t->rootfd, path, 0644, fd);
	close(fd);
	return rc < 0 ? fail_on(t, "write", path, rc) : 0;
}

/* Makes the disk boot the installed kernel: systemd-boot on the ESP's removable-media path
 * (UEFI; no NVRAM entry needed) or extlinux in the root filesystem behind syslinux's MBR. */
static int install_bootloader(struct target *t)
{
	char cmdline[1400], dir[TARGET_PATH_MAX];
	const char *name = json_string_value(json_object_get(t->image, "name"));
	size_t len = strlen(TARGET);
	int rc;

	if (!target_exists(t->rootfd, "/boot/vmlinuz") || !target_exists(t->rootfd, "/boot/initrd.img"))
		return failf(t, "the image has no /boot/vmlinuz and /boot/initrd.img to boot");
	kernel_cmdline(t, cmdline, sizeof(cmdline));
	if (t->uefi) {
		if (make_dirs(t, "/boot/efi/EFI/BOOT", 0755) < 0 || make_dirs(t, "/boot/efi/anemos", 0755) < 0 ||
		    make_dirs(t, "/boot/efi/loader/entries", 0755) < 0 ||
		    copy_in(t, SYSTEMD_BOOT, false, "/boot/efi/EFI/BOOT/BOOTX64.EFI") < 0 ||
		    copy_in(t, "/boot/vmlinuz", true, "/boot/efi/anemos/vmlinuz") < 0 ||
		    copy_in(t, "/boot/initrd.img", true, "/boot/efi/anemos/initrd.img") < 0 ||
		    put(t, "/boot/efi/loader/loader.conf", 0644, "default anemos.conf\ntimeout 0\n") < 0 ||
		    put(t, "/boot/efi/loader/entries/anemos.conf", 0644,
			"title Anemos: %s\nlinux /anemos/vmlinuz\ninitrd /anemos/initrd.img\noptions %s\n",
			name ? name : "image", cmdline) < 0)
			return -EIO;
		return 0;
	}
	if (make_dirs(t, "/boot/extlinux", 0755) < 0 ||
	    put(t, "/boot/extlinux/extlinux.conf", 0644,
		"DEFAULT anemos\nPROMPT 0\nTIMEOUT 0\n\nLABEL anemos\n  MENU LABEL Anemos: %s\n"
		"  LINUX /boot/vmlinuz\n  INITRD /boot/initrd.img\n  APPEND %s\n", name ? name : "image", cmdline) < 0)
		return -EIO;
	/* extlinux takes a path: the folder as resolved inside the target, free of symlinks. */
	if ((rc = target_realpath(t->rootfd, "/boot/extlinux", dir, sizeof(dir))) < 0)
		return fail_on(t, "resolve", "/boot/extlinux", rc);
	if (strncmp(dir, TARGET, len) != 0 || (dir[len] != '/' && dir[len] != '\0'))
		return failf(t, "/boot/extlinux resolves to %s, outside %s", dir, TARGET);
	{
		const char *extlinux[] = { "extlinux", "--install", dir, NULL };
		char mbr[440];
		int fd, ok;

		if (run(t, extlinux, NULL) < 0)
			return -EIO;
		fd = open(MBR_BIN, O_RDONLY | O_CLOEXEC);
		ok = fd >= 0 && read(fd, mbr, sizeof(mbr)) == (ssize_t)sizeof(mbr);
		if (fd >= 0)
			close(fd);
		if (!ok)
			return failf(t, "cannot read %s", MBR_BIN);
		fd = open(t->disk, O_WRONLY | O_CLOEXEC);
		ok = fd >= 0 && pwrite(fd, mbr, sizeof(mbr), 0) == (ssize_t)sizeof(mbr) && fsync(fd) == 0;
		if (fd >= 0)
			close(fd);
		return ok ? 0 : failf(t, "cannot write the MBR boot code to %s", t->disk);
	}
}

/* Unmounts the target (its root descriptor closed first: it would keep it busy). */
static void unmount_all(struct target *t)
{
	if (t->rootfd >= 0)
		close(t->rootfd);
	t->rootfd = -1;
	sync();
	if (t->esp_mounted && umount(ESP_MOUNT) == 0)
		t->esp_mounted = false;
	if (t->root_mounted && umount(TARGET) == 0)
		t->root_mounted = false;
}

/* Makes a disk that failed halfway unbootable: both GPT copies and the MBR are zeroed. */
static void wipe(struct target *t)
{
	static char zero[1 << 20];
	int fd;

	unmount_all(t);
	if (!t->disk[0] || (fd = open(t->disk, O_WRONLY | O_CLOEXEC)) < 0)
		return;
	if (pwrite(fd, zero, sizeof(zero), 0) < 0 ||
	    (t->disk_size > sizeof(zero) && pwrite(fd, zero, sizeof(zero), (off_t)(t->disk_size - sizeof(zero))) < 0))
		fprintf(stderr, "anemos-agent: wiping %s failed: %s\n", t->disk, strerror(errno));
	fsync(fd);
	ioctl(fd, BLKRRPART);
	close(fd);
	fprintf(stderr, "anemos-agent: %s wiped: it will not boot the half-written system\n", t->disk);
}

/* Loads the installed kernel for kexec (the file-load syscall; no kexec-tools needed). */
static bool kexec_load_installed(struct target *t)
{
	char cmdline[1400];
	int kfd, ifd;
	long rc;

	kernel_cmdline(t, cmdline, sizeof(cmdline));
	kfd = target_open(t->rootfd, "/boot/vmlinuz", O_RDONLY, 0);
	ifd = target_open(t->rootfd, "/boot/initrd.img", O_RDONLY, 0);
	rc = kfd >= 0 && ifd >= 0 ? syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1, cmdline, 0UL) : -1;
	if (rc != 0)
		fprintf(stderr, "anemos-agent: kexec_file_load failed (%s); rebooting instead\n", strerror(errno));
	if (kfd >= 0)
		close(kfd);
	if (ifd >= 0)
		close(ifd);
	return rc == 0;
}

int install_unpack(struct agent *a, const char *url, const char *sha256, const char *format, const char *to)
{
	struct target t = { .a = a, .unpack_dir = to, .disk_size = UINT64_MAX, .rootfd = -1 };
	int fd, rc;

	t.image = json_pack("{s:s, s:s, s:s, s:s}", "name", "unpack", "url", url, "sha256", sha256, "format", format);
	if (strncmp(format, "raw", 3) == 0) {
		if ((fd = open(to, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
			fprintf(stderr, "anemos-agent: cannot create %s: %s\n", to, strerror(errno));
			json_decref(t.image);
			return EXIT_FAILED;
		}
		close(fd);
		snprintf(t.disk, sizeof(t.disk), "%s", to);
	}
	rc = stream_image(&t);
	if (rc < 0)
		fprintf(stderr, "anemos-agent: unpacking failed: %s\n", err_msg());
	json_decref(t.image);
	return rc < 0 ? EXIT_FAILED : 0;
}

int install_run(struct agent *a, json_t *plan, json_t *inventory)
{
	struct target t = { .a = a, .plan = plan, .unpack_dir = TARGET, .rootfd = -1 };
	const char *format, *after, *url;
	char esp_uuid[12] = "", why[512];
	bool raw, recipe, kexec_ready = false;
	time_t started = time(NULL);
	struct build_job *job = NULL;
	int rc;

	t.settings = json_object_get(plan, "install");
	t.image = json_object_get(plan, "image");
	t.uefi = access("/sys/firmware/efi", F_OK) == 0;
	format = json_string_value(json_object_get(t.image, "format"));
	raw = format && strncmp(format, "raw", 3) == 0;
	recipe = format && strcmp(format, "recipe") == 0;
	after = json_string_value(json_object_get(t.settings, "after"));
	if (!after)
		after = "reboot";
	if (access(INITRAMFS_MARKER, F_OK) != 0) {
		failf(&t, "refusing to install: not running in the Anemos initramfs (%s missing)", INITRAMFS_MARKER);
		goto fail;
	}
	if (pick_disk(&t, inventory) < 0)
		goto fail;
	if (disk_in_use(t.disk)) {
		failf(&t, "refusing to install onto %s: it, or a partition of it, is mounted or in use as swap",
		      t.disk);
		t.disk[0] = '\0';
		goto fail;
	}
	client_report(a, "info", "install", "installing image %s (%s) onto %s (%.1f GiB) for %s firmware",
		      json_string_value(json_object_get(t.image, "name")), format ? format : "?", t.disk,
		      (double)t.disk_size / 1073741824.0, t.uefi ? "UEFI" : "BIOS");
	/* A recipe's bundle and mirror signature are checked before the disk is touched, and a
	 * deploy's image URL: a bad mirror or a missing image leaves the old system as it was
	 * (and bootable, for a one-shot boot entry). */
	if (recipe && !(job = build_open(a, plan)))
		goto fail;
	/* With no anemosd to try again from, a deploy's image must answer before the disk goes. */
	url = json_string_value(json_object_get(t.image, "url"));
	if (!recipe && a->deploy && stream_probe(url ? url : "") < 0)
		goto fail;
	if (!raw) {
		client_report(a, "info", "partition", "partition: %s as %s, ext4 root", t.disk,
			      t.uefi ? "GPT with an EFI system partition" : "MBR");
		if (partition_and_format(&t) < 0)
			goto fail;
	}
	/* A recipe is built here from its mirror; any other image streams onto the disk. */
	rc = recipe ? build_into(job, TARGET) : stream_image(&t);
	job = NULL;
	if (rc < 0)
		goto fail;
	memory_report();
	if (raw && mount_raw_root(&t) < 0)
		goto fail;
	client_report(a, "info", "configure", "configure: hostname, keys, network, per-host templates");
	if (t.uefi && t.esp_id[0]) {
		snprintf(esp_uuid, sizeof(esp_uuid), "%.4s-%.4s", t.esp_id, t.esp_id + 4);
		for (char *p = esp_uuid; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
	}
	err_clear();
	if (configure_host(a, plan, t.rootfd, t.root_uuid, esp_uuid) < 0 || templates_render(plan, t.rootfd) < 0)
		goto fail;
	if (!raw) {
		client_report(a, "info", "bootloader", "bootloader: %s", t.uefi ? "systemd-boot on the ESP" : "extlinux and the MBR");
		if (install_bootloader(&t) < 0)
			goto fail;
	}
	err_clear();
	if (deploy_finish(a, t.rootfd) < 0)
		goto fail;
	if (strcmp(after, "kexec") == 0)
		kexec_ready = kexec_load_installed(&t);
	unmount_all(&t);
	if (t.root_mounted || t.esp_mounted) {
		failf(&t, "cannot unmount the installed system");
		goto fail;
	}
	client_report(a, "info", "install", "installed %s onto %s in %ld s; %s",
		      json_string_value(json_object_get(t.image, "name")), t.disk, (long)(time(NULL) - started),
		      strcmp(after, "poweroff") == 0 ? "powering off" : kexec_ready ? "starting it with kexec" : "rebooting");
	{
		json_t *body = json_pack("{s:b}", "ok", 1);

		client_call(a, "POST", "/api/v1/agent/done", body, 20, NULL, NULL); /* anemosd revokes the token either way */
		json_decref(body);
	}
	if (strcmp(after, "poweroff") == 0)
		return EXIT_POWEROFF;
	if (kexec_ready) {
		sync();
		reboot(LINUX_REBOOT_CMD_KEXEC);
		fprintf(stderr, "anemos-agent: kexec failed (%s); rebooting\n", strerror(errno));
	}
	return EXIT_REBOOT;
fail:
	/* The failure's words, kept from what cleaning up may say (the edge: reported below). */
	snprintf(why, sizeof(why), "%s", err_msg()[0] ? err_msg() : "unknown failure");
	build_close(job);
	if (t.touched)
		wipe(&t);
	else
		unmount_all(&t);
	client_report(a, "error", "install", "install failed: %s%s", why,
		      t.touched ? "" : " (" BOOT_DISK_UNTOUCHED ")");
	{
		json_t *body = json_pack("{s:b, s:s}", "ok", 0, "error", why);

		client_call(a, "POST", "/api/v1/agent/done", body, 20, NULL, NULL); /* anemosd revokes the token either way */
		json_decref(body);
	}
	return EXIT_FAILED;
}
