/*
 * Whole disks from sys/block. Each entry there is a link to the disk's place in the device
 * tree (sys/devices/pci.../block/sda), and that path says how the disk is attached. Model,
 * serial and WWN come from whichever attribute the driver provides: device/model and
 * device/serial (NVMe controllers, MMC, SCSI), the disk's own serial (virtio-blk), the SCSI
 * unit serial page device/vpd_pg80 (SATA, SAS, USB), the ATA information page
 * device/vpd_pg89 (the untruncated model of SATA disks), and the wwid attribute of the
 * namespace or the SCSI device. by_path is udev's name in dev/disk/by-path when udev made one.
 */
#include <errno.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Block devices that are not disks of this machine: virtual, stacked, optical, floppy. */
static const char *const skipped_prefixes[] = {
	"loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd", "zd", "drbd", "rbd",
};

/* "mmcblk0boot0", "mmcblk0rpmb": the hardware boot areas of an eMMC, not disks. */
static bool mmc_special_area(const char *name)
{
	const char *p;

	if (strncmp(name, "mmcblk", 6) != 0)
		return false;
	for (p = name + 6; isdigit((unsigned char)*p); p++)
		;
	return strncmp(p, "boot", 4) == 0 || strcmp(p, "rpmb") == 0;
}

static bool skipped_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(skipped_prefixes); i++)
		if (strncmp(name, skipped_prefixes[i], strlen(skipped_prefixes[i])) == 0)
			return true;
	return mmc_special_area(name);
}

/* True if some component of path is prefix followed by digits only ("ata3", "usb1"),
 * or, when digits is false, merely starts with prefix ("end_device-0:0:1"). */
static bool has_component(const char *path, const char *prefix, bool digits)
{
	size_t plen = strlen(prefix);
	const char *c = path, *end, *p;

	for (;; c = end + 1) {
		end = strchrnul(c, '/');
		if ((size_t)(end - c) > plen && strncmp(c, prefix, plen) == 0) {
			if (!digits)
				return true;
			for (p = c + plen; p < end && isdigit((unsigned char)*p); p++)
				;
			if (p == end)
				return true;
		}
		if (!*end)
			return false;
	}
}

const char *disk_transport(const char *name, const char *devpath)
{
	/* USB first: a USB disk also has a SCSI host, and a USB card reader an mmc name. */
	if (has_component(devpath, "usb", true))
		return "usb";
	if (strncmp(name, "nvme", 4) == 0)
		return "nvme";
	if (strncmp(name, "mmcblk", 6) == 0)
		return "mmc";
	if (has_component(devpath, "ata", true))
		return "sata";
	if (has_component(devpath, "end_device-", false))
		return "sas";
	if (strncmp(name, "vd", 2) == 0 && has_component(devpath, "virtio", true))
		return "virtio";
	if (strncmp(name, "xvd", 3) == 0 || has_component(devpath, "vbd-", false))
		return "xen";
	if (has_component(devpath, "host", true))
		return "scsi";
	return NULL;
}

/* The product serial number page (SCSI VPD 0x80): 4 header bytes, then the serial, often
 * padded with spaces on either side. */
static bool vpd_serial(const char *root, const char *rel, char *out, size_t size)
{
	const unsigned char *page;
	char *data;
	size_t len, n;

	out[0] = '\0';
	if (file_read_all(root, rel, 4096, &data, &len) < 0)
		return false;
	page = (const unsigned char *)data;
	if (len >= 4 && page[1] == 0x80) {
		n = (size_t)page[2] << 8 | page[3];
		if (n > len - 4)
			n = len - 4;
		if (n > size - 1)
			n = size - 1;
		memcpy(out, data + 4, n);
		out[n] = '\0';
		text_strip(out);
	}
	free(data);
	return out[0] != '\0';
}

/* The full model of an ATA disk from the ATA Information page (VPD 0x89), which carries the
 * drive's IDENTIFY data: device/model holds only the first 16 characters ("INTEL SSDSC2KB48"
 * for "INTEL SSDSC2KB480G8"). The model is IDENTIFY words 27-46, each word's two characters
 * stored swapped. */
static bool vpd_ata_model(const char *root, const char *rel, char *out, size_t size)
{
	enum { IDENTIFY = 60, MODEL = IDENTIFY + 2 * 27, MODEL_LEN = 40 };
	const unsigned char *page;
	char *data;
	size_t len, o = 0;

	out[0] = '\0';
	if (size <= MODEL_LEN || file_read_all(root, rel, 4096, &data, &len) < 0)
		return false;
	page = (const unsigned char *)data;
	/* Byte 56: the command that returned the data, IDENTIFY (PACKET) DEVICE. */
	if (len >= MODEL + MODEL_LEN && page[1] == 0x89 && (page[56] == 0xec || page[56] == 0xa1)) {
		for (size_t i = 0; i < MODEL_LEN; i += 2) {
			out[o++] = (char)page[MODEL + i + 1];
			out[o++] = (char)page[MODEL + i];
		}
		out[o] = '\0';
		text_strip(out);
	}
	free(data);
	return out[0] != '\0';
}

/* The WWN as lsblk shows it: "0x5000c500a1b2c3d4" for an NAA name, the namespace's
 * "eui.…"/"uuid.…" for NVMe. Vendor-made ids ("t10.ATA  <model> <serial>", "nvme.…")
 * are not world-wide names and give null. */
static json_t *wwn_from_wwid(const char *wwid)
{
	char out[80];
	const char *hex;
	size_t o;

	if (strncmp(wwid, "naa.", 4) == 0) {
		hex = wwid + 4;
		o = (size_t)snprintf(out, sizeof(out), "0x");
	} else if (strncmp(wwid, "eui.", 4) == 0 || strncmp(wwid, "uuid.", 5) == 0) {
		hex = strchr(wwid, '.') + 1;
		o = (size_t)(hex - wwid);
		memcpy(out, wwid, o);
	} else {
		return json_null();
	}
	if (!*hex)
		return json_null();
	for (; *hex; hex++) {
		if (o + 1 >= sizeof(out) || !(isxdigit((unsigned char)*hex) || *hex == '-'))
			return json_null();
		out[o++] = (char)tolower((unsigned char)*hex);
	}
	out[o] = '\0';
	return json_string(out);
}

static json_t *json_bool_file(const char *root, const char *rel)
{
	long long v;

	if (file_read_integer(root, rel, &v) < 0 || (v != 0 && v != 1))
		return json_null();
	return json_boolean(v);
}

/* The first attribute of `names` (under sys/block/NAME/) that reads as non-empty text. */
static bool first_text(const char *root, const char *disk, const char *const *names,
		       char *out, size_t size)
{
	char rel[512];

	for (; *names; names++) {
		snprintf(rel, sizeof(rel), "sys/block/%s/%s", disk, *names);
		if (file_read_text(root, rel, out, size) == 0 && out[0])
			return true;
	}
	out[0] = '\0';
	return false;
}

/* udev's dev/disk/by-path links: name → target's last component. */
struct by_path {
	char **names;
	size_t count;
	char (*targets)[64];
};

/* Reads root's by-path links into bp: 0, or -ENOMEM (no message). */
static int by_path_load(const char *root, struct by_path *bp)
{
	char rel[512];
	int rc;

	bp->targets = NULL;
	if ((rc = dir_list(root, "dev/disk/by-path", strcmp, &bp->names, &bp->count)) < 0)
		return rc;
	if (bp->count && !(bp->targets = calloc(bp->count, sizeof(*bp->targets)))) {
		dir_list_free(bp->names, bp->count);
		bp->count = 0;
		return -ENOMEM;
	}
	for (size_t i = 0; i < bp->count; i++) {
		snprintf(rel, sizeof(rel), "dev/disk/by-path/%s", bp->names[i]);
		if (file_link_name(root, rel, bp->targets[i], sizeof(bp->targets[i])) < 0)
			bp->targets[i][0] = '\0';
	}
	return 0;
}

/* The first (so the shortest of "…-ata-1" and "…-ata-1.0") link to the disk. */
static const char *by_path_find(const struct by_path *bp, const char *disk)
{
	for (size_t i = 0; i < bp->count; i++)
		if (strcmp(bp->targets[i], disk) == 0)
			return bp->names[i];
	return NULL;
}

static void by_path_free(struct by_path *bp)
{
	dir_list_free(bp->names, bp->count);
	free(bp->targets);
}

static void disk_collect(struct inventory *inv, const char *name, const struct by_path *bp)
{
	static const char *const model_files[] = { "device/model", "device/name", NULL };
	static const char *const serial_files[] = { "device/serial", "serial", NULL };
	static const char *const wwid_files[] = { "wwid", "device/wwid", NULL };
	char rel[512], devpath[4096], text[256];
	bool resolved;
	long long sectors;
	bool have_size;
	json_t *disk;

	snprintf(rel, sizeof(rel), "sys/block/%s", name);
	resolved = file_resolve(inv->root, rel, devpath, sizeof(devpath)) == 0;
	/* Stacked and memory-backed devices live under devices/virtual; NVMe over fabrics too,
	 * and those are real disks. */
	if (resolved && strstr(devpath, "/devices/virtual/") && strncmp(name, "nvme", 4) != 0)
		return;
	snprintf(rel, sizeof(rel), "sys/block/%s/partition", name);
	if (file_exists(inv->root, rel))
		return;
	snprintf(rel, sizeof(rel), "sys/block/%s/hidden", name);
	if (file_read_text(inv->root, rel, text, sizeof(text)) == 0 && strcmp(text, "1") == 0)
		return; /* a multipath NVMe path device; the namespace head is listed itself */
	snprintf(rel, sizeof(rel), "sys/block/%s/size", name);
	have_size = file_read_integer(inv->root, rel, &sectors) == 0 && sectors >= 0 &&
		    sectors <= (long long)(~0ULL >> 10);
	if (have_size && sectors == 0)
		return; /* no medium: an empty card reader or virtual drive */
	if (!(disk = json_object())) {
		inv->oom = true;
		return;
	}
	inv_set(inv, disk, "name", json_text(name));
	inv_set(inv, disk, "size_bytes", have_size ? json_integer(sectors * 512) : json_null());
	snprintf(rel, sizeof(rel), "sys/block/%s/device/vpd_pg89", name);
	if (!vpd_ata_model(inv->root, rel, text, sizeof(text)))
		first_text(inv->root, name, model_files, text, sizeof(text));
	inv_set(inv, disk, "model", json_text(text));
	if (!first_text(inv->root, name, serial_files, text, sizeof(text))) {
		snprintf(rel, sizeof(rel), "sys/block/%s/device/vpd_pg80", name);
		vpd_serial(inv->root, rel, text, sizeof(text));
	}
	inv_set(inv, disk, "serial", json_text(text));
	inv_set(inv, disk, "wwn", first_text(inv->root, name, wwid_files, text, sizeof(text)) ?
				  wwn_from_wwid(text) : json_null());
	snprintf(rel, sizeof(rel), "sys/block/%s/queue/rotational", name);
	inv_set(inv, disk, "rotational", json_bool_file(inv->root, rel));
	snprintf(rel, sizeof(rel), "sys/block/%s/removable", name);
	inv_set(inv, disk, "removable", json_bool_file(inv->root, rel));
	inv_set(inv, disk, "transport", resolved && disk_transport(name, devpath) ?
					json_string(disk_transport(name, devpath)) : json_null());
	inv_set(inv, disk, "by_path", json_text(by_path_find(bp, name)));
	inv_append(inv, inv_section(inv, "disks"), disk);
}

void disks_collect(struct inventory *inv)
{
	struct by_path bp;
	char **names;
	size_t count;

	if (by_path_load(inv->root, &bp) < 0) {
		inv->oom = true;
		return;
	}
	if (dir_list(inv->root, "sys/block", strverscmp, &names, &count) < 0) {
		inv->oom = true;
		by_path_free(&bp);
		return;
	}
	for (size_t i = 0; i < count; i++)
		if (!skipped_name(names[i]))
			disk_collect(inv, names[i], &bp);
	dir_list_free(names, count);
	by_path_free(&bp);
}
