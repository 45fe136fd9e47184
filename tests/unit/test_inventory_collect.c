/*
 * Unit tests of inventory_collect on the fixture trees of tests/fixtures/inventory (made by
 * make-fixtures.py there): exact values per fixture as tables of "path = JSON", the shape of
 * the contract on every result, an empty or missing tree, DMI tables cut at every length, and
 * the small parsers the collectors share (placeholders, transports, PCI addresses, cpuinfo).
 * In the tables, JSON is written with ' for " to stay readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "inventory_internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FIXTURE(name) FIXTURES "/inventory/" name

/* One expected value: `path` is "section.key", "array[i].key", or "array#" for a length. */
struct want {
	const char *path;
	const char *json;
};

/* The value at path ("memory.dimms[2].serial"); NULL when absent. */
static json_t *at(json_t *v, const char *path)
{
	char key[64];

	while (*path && v) {
		if (*path == '[') {
			char *end;

			v = json_array_get(v, strtoul(path + 1, &end, 10));
			path = *end == ']' ? end + 1 : end;
		} else {
			size_t n = strcspn(path, ".[");

			snprintf(key, sizeof(key), "%.*s", (int)n, path);
			v = json_object_get(v, key);
			path += n;
		}
		if (*path == '.')
			path++;
	}
	return v;
}

/* JSON text with ' for ", parsed. */
static json_t *parse_quoted(const char *text)
{
	char *copy = strdup(text);
	json_error_t error;
	json_t *v;

	assert_non_null(copy);
	for (char *p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	if (!(v = json_loads(copy, JSON_DECODE_ANY, &error)))
		fail_msg("bad expected JSON %s: %s", text, error.text);
	free(copy);
	return v;
}

static void check_wants(json_t *inv, const char *fixture, const struct want *wants, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *path = wants[i].path;
		size_t len = strlen(path);
		json_t *want = parse_quoted(wants[i].json), *got, *count = NULL;

		if (path[len - 1] == '#') {
			char prefix[64];

			snprintf(prefix, sizeof(prefix), "%.*s", (int)(len - 1), path);
			got = at(inv, prefix);
			got = count = json_is_array(got) ? json_integer((json_int_t)json_array_size(got)) : NULL;
		} else {
			got = at(inv, path);
		}
		if (!got || !json_equal(got, want)) {
			char *text = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

			fail_msg("%s: %s = %s, want %s", fixture, path, text ? text : "(missing)",
				 wants[i].json);
		}
		json_decref(count);
		json_decref(want);
	}
}

/* The object has exactly these keys. */
static void check_keys(json_t *obj, const char *what, const char *const *keys)
{
	size_t n = 0;

	if (!json_is_object(obj))
		fail_msg("%s is not an object", what);
	for (; keys[n]; n++)
		if (!json_object_get(obj, keys[n]))
			fail_msg("%s lacks \"%s\"", what, keys[n]);
	if (json_object_size(obj) != n)
		fail_msg("%s has %zu keys, want %zu", what, json_object_size(obj), n);
}

/* The contract's shape (DESIGN.md "Inventory JSON"), and the types of values. */
static void check_shape(json_t *inv)
{
	static const char *const top[] = { "system", "baseboard", "chassis", "bios", "firmware",
					   "cpu", "memory", "disks", "nics", "pci", NULL };
	static const char *const system[] = { "vendor", "product", "serial", "uuid", "sku",
					      "family", NULL };
	static const char *const baseboard[] = { "vendor", "product", "serial", NULL };
	static const char *const chassis[] = { "vendor", "type", "serial", "asset_tag", NULL };
	static const char *const bios[] = { "vendor", "version", "date", NULL };
	static const char *const cpu[] = { "model", "sockets", "cores", "threads", "mhz", NULL };
	static const char *const memory[] = { "total_bytes", "dimms", NULL };
	static const char *const dimm[] = { "slot", "size_bytes", "type", "speed_mts",
					    "manufacturer", "serial", "part", NULL };
	static const char *const disk[] = { "name", "size_bytes", "model", "serial", "wwn",
					    "rotational", "removable", "transport", "by_path", NULL };
	static const char *const nic[] = { "name", "mac", "driver", "speed_mbps", "link", "pci",
					   NULL };
	static const char *const pci[] = { "address", "vendor_id", "device_id", "class", "driver",
					   NULL };
	static const struct {
		const char *array;
		const char *const *keys;
	} arrays[] = { { "memory.dimms", dimm }, { "disks", disk }, { "nics", nic }, { "pci", pci } };
	json_t *firmware = json_object_get(inv, "firmware"), *item;
	size_t i;

	check_keys(inv, "inventory", top);
	check_keys(json_object_get(inv, "system"), "system", system);
	check_keys(json_object_get(inv, "baseboard"), "baseboard", baseboard);
	check_keys(json_object_get(inv, "chassis"), "chassis", chassis);
	check_keys(json_object_get(inv, "bios"), "bios", bios);
	check_keys(json_object_get(inv, "cpu"), "cpu", cpu);
	check_keys(json_object_get(inv, "memory"), "memory", memory);
	if (!json_is_null(firmware) && (!json_is_string(firmware) ||
					 (strcmp(json_string_value(firmware), "uefi") != 0 &&
					  strcmp(json_string_value(firmware), "bios") != 0)))
		fail_msg("firmware is neither uefi, bios nor null");
	for (size_t a = 0; a < ARRAY_SIZE(arrays); a++) {
		json_t *array = at(inv, arrays[a].array);

		if (!json_is_array(array))
			fail_msg("%s is not an array", arrays[a].array);
		json_array_foreach(array, i, item) check_keys(item, arrays[a].array, arrays[a].keys);
	}
}

static json_t *collect(const char *root)
{
	json_t *inv = inventory_collect(root);

	assert_non_null(inv);
	check_shape(inv);
	return inv;
}

static void test_qemu_q35_uefi(void **state)
{
	static const struct want wants[] = {
		{ "system", "{'vendor':'QEMU','product':'Standard PC (Q35 + ICH9, 2009)','serial':null,"
			    "'uuid':'6f2c1a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b','sku':null,'family':null}" },
		{ "baseboard", "{'vendor':null,'product':null,'serial':null}" },
		{ "chassis", "{'vendor':'QEMU','type':'Other','serial':null,'asset_tag':null}" },
		{ "bios", "{'vendor':'EFI Development Kit II / OVMF','version':'0.0.0',"
			  "'date':'02/06/2015'}" },
		{ "firmware", "'uefi'" },
		{ "cpu", "{'model':'QEMU Virtual CPU version 2.5+','sockets':1,'cores':2,'threads':2,"
			 "'mhz':2394}" },
		/* The DIMM's 2 GiB, not MemTotal's 2014004 kB. */
		{ "memory.total_bytes", "2147483648" },
		{ "memory.dimms#", "1" },
		{ "memory.dimms[0]", "{'slot':'DIMM 0','size_bytes':2147483648,'type':'RAM',"
				     "'speed_mts':null,'manufacturer':'QEMU','serial':null,'part':null}" },
		/* sr0, the CD-ROM, is not a disk. */
		{ "disks#", "2" },
		{ "disks[0]", "{'name':'sda','size_bytes':4294967296,'model':'QEMU HARDDISK',"
			      "'serial':'QM00005','wwn':null,'rotational':true,'removable':false,"
			      "'transport':'sata','by_path':'pci-0000:00:1f.2-ata-3'}" },
		{ "disks[1]", "{'name':'vda','size_bytes':21474836480,'model':null,"
			      "'serial':'anemos-root','wwn':null,'rotational':true,'removable':false,"
			      "'transport':'virtio','by_path':'pci-0000:00:02.0'}" },
		/* virtio-net has no speed; lo is not a NIC. */
		{ "nics#", "1" },
		{ "nics[0]", "{'name':'enp0s3','mac':'52:54:00:12:34:56','driver':'virtio_net',"
			     "'speed_mbps':null,'link':true,'pci':'0000:00:03.0'}" },
		{ "pci#", "7" },
		{ "pci[0]", "{'address':'0000:00:00.0','vendor_id':'8086','device_id':'29c0',"
			    "'class':'060000','driver':null}" },
		{ "pci[3]", "{'address':'0000:00:03.0','vendor_id':'1af4','device_id':'1000',"
			    "'class':'020000','driver':'virtio-pci'}" },
		{ "pci[6]", "{'address':'0000:00:1f.3','vendor_id':'8086','device_id':'2930',"
			    "'class':'0c0500','driver':'i801_smbus'}" },
	};
	json_t *inv = collect(FIXTURE("qemu-q35-uefi"));

	(void)state;
	check_wants(inv, "qemu-q35-uefi", wants, ARRAY_SIZE(wants));
	json_decref(inv);
}

static void test_server_4dimm_bios(void **state)
{
	static const struct want wants[] = {
		{ "system", "{'vendor':'Dell Inc.','product':'PowerEdge R640','serial':'7XK4M93',"
			    "'uuid':'4c4c4544-0058-4b10-8034-b7c04f4d3933',"
			    "'sku':'SKU=NotProvided;ModelName=PowerEdge R640','family':'PowerEdge'}" },
		{ "baseboard", "{'vendor':'Dell Inc.','product':'0W23H8',"
			       "'serial':'.7XK4M93.CNFCP0019A00EH.'}" },
		{ "chassis", "{'vendor':'Dell Inc.','type':'Rack Mount Chassis','serial':'7XK4M93',"
			     "'asset_tag':null}" },
		{ "bios", "{'vendor':'Dell Inc.','version':'2.17.1','date':'11/18/2022'}" },
		{ "firmware", "'bios'" },
		/* Sockets from SMBIOS; cores = "cpu cores" 20 x 2 packages (no sysfs topology). */
		{ "cpu", "{'model':'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz','sockets':2,'cores':40,"
			 "'threads':80,'mhz':2100}" },
		/* 3 x 32 GiB + 64 GiB; the empty slots A3 and B3 are left out. */
		{ "memory.total_bytes", "171798691840" },
		{ "memory.dimms#", "4" },
		{ "memory.dimms[0]", "{'slot':'A1','size_bytes':34359738368,'type':'DDR4',"
				     "'speed_mts':2933,'manufacturer':'Hynix Semiconductor',"
				     "'serial':'3A1B2C3D','part':'HMA84GR7CJR4N-WM'}" },
		{ "memory.dimms[1]", "{'slot':'A2','size_bytes':34359738368,'type':'DDR4',"
				     "'speed_mts':2933,'manufacturer':'Hynix Semiconductor',"
				     "'serial':'3A1B2C4E','part':'HMA84GR7CJR4N-WM'}" },
		{ "memory.dimms[2]", "{'slot':'B1','size_bytes':34359738368,'type':'DDR4',"
				     "'speed_mts':2933,'manufacturer':'Micron Technology',"
				     "'serial':'22F1A0B3','part':'36ASF4G72PZ-2G9E2'}" },
		{ "memory.dimms[3]", "{'slot':'B2','size_bytes':68719476736,'type':'DDR4',"
				     "'speed_mts':2933,'manufacturer':'Samsung','serial':'0357AB12',"
				     "'part':'M393A8G40AB2-CWE'}" },
		/* Not disks: loop0, dm-0, md127, zram0, the empty virtual floppy sdd, the CD sr0. */
		{ "disks#", "5" },
		{ "disks[0]", "{'name':'nvme0n1','size_bytes':960197124096,"
			      "'model':'SAMSUNG MZQLB960HAJR-00007','serial':'S437NA0M812345',"
			      "'wwn':'eui.0025388b91b2d4a1','rotational':false,'removable':false,"
			      "'transport':'nvme','by_path':'pci-0000:3b:00.0-nvme-1'}" },
		{ "disks[1]", "{'name':'nvme1n1','size_bytes':960197124096,"
			      "'model':'SAMSUNG MZQLB960HAJR-00007','serial':'S437NA0M812399',"
			      "'wwn':'eui.0025388b91b2d4f7','rotational':false,'removable':false,"
			      "'transport':'nvme','by_path':'pci-0000:3c:00.0-nvme-1'}" },
		/* The model from the ATA IDENTIFY data, not device/model's 16 characters. */
		{ "disks[2]", "{'name':'sda','size_bytes':480103981056,'model':'INTEL SSDSC2KB480G8',"
			      "'serial':'PHYF912345AB480BGN','wwn':'0x55cd2e4150a1b2c3',"
			      "'rotational':false,'removable':false,'transport':'sata',"
			      "'by_path':'pci-0000:00:17.0-ata-1'}" },
		{ "disks[3]", "{'name':'sdb','size_bytes':2000398934016,'model':'ST2000NM0045',"
			      "'serial':'ZC2ABCDE0000C1234567','wwn':'0x5000c500a1b2c3d4',"
			      "'rotational':true,'removable':false,'transport':'sas',"
			      "'by_path':'pci-0000:5e:00.0-sas-phy0-lun-0'}" },
		{ "disks[4]", "{'name':'sdc','size_bytes':15376318464,'model':'Cruzer Blade',"
			      "'serial':'4C530001230817106093','wwn':null,'rotational':true,"
			      "'removable':true,'transport':'usb',"
			      "'by_path':'pci-0000:00:14.0-usb-0:14:1.0-scsi-0:0:0:0'}" },
		/* Not NICs: lo, bond0. The USB NIC has no PCI address of its own. */
		{ "nics#", "3" },
		{ "nics[0]", "{'name':'eno1','mac':'24:6e:96:8a:3c:10','driver':'ixgbe',"
			     "'speed_mbps':10000,'link':true,'pci':'0000:19:00.0'}" },
		{ "nics[1]", "{'name':'eno2','mac':'24:6e:96:8a:3c:12','driver':'ixgbe',"
			     "'speed_mbps':null,'link':false,'pci':'0000:19:00.1'}" },
		{ "nics[2]", "{'name':'idrac','mac':'2a:6e:96:8a:3c:17','driver':'cdc_ether',"
			     "'speed_mbps':425,'link':true,'pci':null}" },
		{ "pci#", "13" },
		{ "pci[3]", "{'address':'0000:03:00.0','vendor_id':'102b','device_id':'0536',"
			    "'class':'030000','driver':null}" },
		{ "pci[5]", "{'address':'0000:19:00.0','vendor_id':'8086','device_id':'1563',"
			    "'class':'020000','driver':'ixgbe'}" },
		{ "pci[9]", "{'address':'0000:3b:00.0','vendor_id':'144d','device_id':'a808',"
			    "'class':'010802','driver':'nvme'}" },
		{ "pci[12]", "{'address':'0000:5e:00.0','vendor_id':'1000','device_id':'0097',"
			     "'class':'010700','driver':'mpt3sas'}" },
	};
	json_t *inv = collect(FIXTURE("server-4dimm-bios"));

	(void)state;
	check_wants(inv, "server-4dimm-bios", wants, ARRAY_SIZE(wants));
	json_decref(inv);
}

static void test_desktop_dmi_id(void **state)
{
	static const struct want wants[] = {
		/* Placeholders everywhere but the board and BIOS; the UUID is the well-known
		 * unset one; serials were not readable. */
		{ "system", "{'vendor':null,'product':null,'serial':null,'uuid':null,'sku':null,"
			    "'family':null}" },
		{ "baseboard", "{'vendor':'ASUSTeK COMPUTER INC.','product':'PRIME B450M-A',"
			       "'serial':null}" },
		{ "chassis", "{'vendor':null,'type':'Desktop','serial':null,'asset_tag':null}" },
		{ "bios", "{'vendor':'American Megatrends Inc.','version':'3211',"
			  "'date':'08/10/2021'}" },
		{ "firmware", "'uefi'" },
		{ "cpu", "{'model':'AMD Ryzen 5 3600 6-Core Processor','sockets':1,'cores':6,"
			 "'threads':12,'mhz':3600}" },
		/* No DIMMs known: MemTotal. */
		{ "memory", "{'total_bytes':33615572992,'dimms':[]}" },
		/* The card reader without a card is left out; a vendor-made "nvme." wwid is no WWN. */
		{ "disks", "[{'name':'nvme0n1','size_bytes':500107862016,"
			   "'model':'Samsung SSD 980 500GB','serial':'S64DNF0R123456X','wwn':null,"
			   "'rotational':false,'removable':false,'transport':'nvme','by_path':null}]" },
		/* Administratively down: no carrier file, operstate down. */
		{ "nics", "[{'name':'enp3s0','mac':'04:d9:f5:11:22:33','driver':'r8169',"
			  "'speed_mbps':null,'link':false,'pci':'0000:03:00.0'}]" },
		{ "pci#", "2" },
	};
	json_t *inv = collect(FIXTURE("desktop-dmi-id"));

	(void)state;
	check_wants(inv, "desktop-dmi-id", wants, ARRAY_SIZE(wants));
	json_decref(inv);
}

/* A fresh temporary folder for a tree built by a test. */
static void temp_tree(char dir[64])
{
	snprintf(dir, 64, "/tmp/anemos-inventory-test.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void temp_tree_remove(const char *dir)
{
	assert_int_equal(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Writes a file under root, making its folders. */
static void write_file(const char *root, const char *rel, const void *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Nothing readable: every value null, every array empty — exactly the skeleton. */
static void test_empty_tree(void **state)
{
	char dir[64], root[128];
	json_t *skeleton = inventory_skeleton(), *inv;

	(void)state;
	temp_tree(dir);
	inv = collect(dir);
	if (!json_equal(inv, skeleton))
		fail_msg("empty tree: %s", json_dumps(inv, JSON_COMPACT));
	json_decref(inv);
	/* A sys/firmware that is there but empty (a container masks it) says nothing either. */
	assert_int_equal(mkdir(strcat(strcpy(root, dir), "/sys"), 0755), 0);
	assert_int_equal(mkdir(strcat(root, "/firmware"), 0755), 0);
	inv = collect(dir);
	assert_true(json_equal(inv, skeleton));
	json_decref(inv);
	temp_tree_remove(dir);
	inv = collect("/nonexistent/anemos-inventory-root");
	assert_true(json_equal(inv, skeleton));
	json_decref(inv);
	json_decref(skeleton);
}

/* The server's DMI table cut at every length, read through the files like a live machine;
 * with ASan any read past the end fails the test. */
static void test_truncated_dmi_files(void **state)
{
	char dir[64], *table, *ep;
	size_t table_len, ep_len;
	json_t *inv;

	(void)state;
	assert_int_equal(file_read_all(FIXTURE("server-4dimm-bios"), "sys/firmware/dmi/tables/DMI",
				       1 << 20, &table, &table_len), 0);
	assert_int_equal(file_read_all(FIXTURE("server-4dimm-bios"),
				       "sys/firmware/dmi/tables/smbios_entry_point", 4096, &ep, &ep_len),
			 0);
	assert_true(table_len > 1000);
	temp_tree(dir);
	write_file(dir, "sys/firmware/dmi/tables/smbios_entry_point", ep, ep_len);
	for (size_t len = 0; len <= table_len; len++) {
		write_file(dir, "sys/firmware/dmi/tables/DMI", table, len);
		inv = collect(dir);
		if (len == table_len) {
			static const struct want wants[] = {
				{ "system.uuid", "'4c4c4544-0058-4b10-8034-b7c04f4d3933'" },
				{ "memory.dimms#", "4" },
				{ "cpu.sockets", "2" },
			};

			check_wants(inv, "whole table", wants, ARRAY_SIZE(wants));
		}
		json_decref(inv);
	}
	/* A truncated entry point: the version is unknown, so the UUID is too. */
	write_file(dir, "sys/firmware/dmi/tables/smbios_entry_point", ep, 0x10);
	inv = collect(dir);
	assert_true(json_is_null(at(inv, "system.uuid")));
	assert_string_equal(json_string_value(at(inv, "system.serial")), "7XK4M93");
	json_decref(inv);
	temp_tree_remove(dir);
	free(table);
	free(ep);
}

/* This machine, whatever it is: the shape holds and nothing crashes. */
static void test_live_root(void **state)
{
	(void)state;
	json_decref(collect("/"));
}

static void test_placeholders(void **state)
{
	static const struct {
		const char *text;
		bool placeholder;
	} cases[] = {
		{ "", true }, { "   ", true }, { "To be filled by O.E.M.", true },
		{ "To Be Filled By O.E.M.  ", true }, { "Default string", true },
		{ "Not Specified", true }, { "None", true }, { "N/A", true }, { "Unknown", true },
		{ "System Serial Number", true }, { "0123456789", true }, { "00000000", true },
		{ "0", true }, { "FFFFFFFF", true }, { "........", true }, { "SerNum0", true },
		{ "PartNum12", true }, { "Manufacturer00", true }, { "AssetTagNum3", true },
		{ "Type2 - Board Serial Number", true },
		{ "Dell Inc.", false }, { "7XK4M93", false }, { "HP", false }, { "0W23H8", false },
		{ "SerNum0x", false }, { "Manufacturer", false }, { "00000001", false },
		{ "Not Specified Yet", false }, { "QEMU", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (text_is_placeholder(cases[i].text) != cases[i].placeholder)
			fail_msg("text_is_placeholder(\"%s\") != %d", cases[i].text, cases[i].placeholder);
}

static void test_json_text(void **state)
{
	static const struct {
		const char *in, *want; /* want NULL: JSON null */
	} cases[] = {
		{ "  PowerEdge R640 \n", "PowerEdge R640" },
		{ "\t\r\n", NULL },
		{ NULL, NULL },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },             /* valid UTF-8 stays */
		{ "caf\xe9", "caf\xc3\xa9" },                 /* Latin-1 is converted */
		{ "\xed\xa0\x80", "\xc3\xad\xc2\xa0\xc2\x80" }, /* a UTF-8 surrogate is not UTF-8 */
		{ "\xc0\xaf", "\xc3\x80\xc2\xaf" },           /* nor an overlong form */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *v = json_text(cases[i].in);

		assert_non_null(v);
		if (cases[i].want ? !json_is_string(v) || strcmp(json_string_value(v), cases[i].want)
				  : !json_is_null(v))
			fail_msg("json_text case %zu", i);
		json_decref(v);
	}
	assert_true(json_is_null(json_firmware_text("To be filled by O.E.M.")));
	assert_true(uuid_is_placeholder("00000000-0000-0000-0000-000000000000"));
	assert_true(uuid_is_placeholder("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"));
	assert_true(uuid_is_placeholder("03000200-0400-0500-0006-000700080009"));
	assert_false(uuid_is_placeholder("4c4c4544-0058-4b10-8034-b7c04f4d3933"));
}

static void test_disk_transport(void **state)
{
	static const struct {
		const char *name, *path, *want;
	} cases[] = {
		{ "nvme0n1", "/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/nvme/nvme0/nvme0n1",
		  "nvme" },
		{ "sda", "/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda",
		  "sata" },
		{ "sdb", "/sys/devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0/host1/port-1:0/"
			 "end_device-1:0/target1:0:0/1:0:0:0/block/sdb", "sas" },
		{ "sdc", "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-14/1-14:1.0/host7/"
			 "target7:0:0/7:0:0:0/block/sdc", "usb" },
		{ "vda", "/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda", "virtio" },
		/* virtio-scsi disks are SCSI disks. */
		{ "sda", "/sys/devices/pci0000:00/0000:00:04.0/virtio2/host0/target0:0:0/0:0:0:0/"
			 "block/sda", "scsi" },
		{ "mmcblk0", "/sys/devices/platform/fe320000.mmc/mmc_host/mmc0/mmc0:0001/block/mmcblk0",
		  "mmc" },
		{ "mmcblk1", "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host3/target3:0:0/"
			     "3:0:0:0/block/mmcblk1", "usb" },
		{ "xvda", "/sys/devices/vbd-51712/block/xvda", "xen" },
		{ "sda", "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00/"
			 "f8b3781b-1e82-4818-a1c3-63d806ec15bb/host0/target0:0:0/0:0:0:0/block/sda",
		  "scsi" },
		{ "pmem0", "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/"
			   "namespace0.0/block/pmem0", NULL },
		/* A folder named like a transport but not a component is nothing. */
		{ "sdz", "/sys/devices/platform/data1/block/sdz", NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *got = disk_transport(cases[i].name, cases[i].path);

		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got && strcmp(got, cases[i].want) != 0))
			fail_msg("disk_transport(%s, %s) = %s, want %s", cases[i].name, cases[i].path,
				 got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
	}
}

static void test_pci_address(void **state)
{
	static const struct {
		const char *address;
		bool valid;
	} cases[] = {
		{ "0000:00:1f.2", true }, { "0000:3b:00.0", true }, { "10000:e1:00.7", true },
		{ "0000:00:1f.8", false }, { "0000:00:1f", false }, { "000:00:1f.2", false },
		{ "0000:00:1g.2", false }, { "0000-00-1f.2", false }, { "", false },
		{ "virtio2", false }, { "pci0000:00", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (pci_address_valid(cases[i].address) != cases[i].valid)
			fail_msg("pci_address_valid(\"%s\") != %d", cases[i].address, cases[i].valid);
}

static void test_cpuinfo(void **state)
{
	static const struct {
		const char *what, *text;
		struct cpu_facts want;
	} cases[] = {
		{ "x86, 2 packages of 2 cores with HT",
		  "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) E5-2620\ncpu MHz\t\t: 1199.872\n"
		  "physical id\t: 0\ncpu cores\t: 2\n\nprocessor\t: 1\nphysical id\t: 1\n\n"
		  "processor\t: 2\nphysical id\t: 0\n\nprocessor\t: 3\nphysical id\t: 1\n\n"
		  "processor\t: 4\nphysical id\t: 0\n\nprocessor\t: 5\nphysical id\t: 1\n\n"
		  "processor\t: 6\nphysical id\t: 0\n\nprocessor\t: 7\nphysical id\t: 1\n",
		  { "Intel(R) Xeon(R) E5-2620", 1200, 2, 4, 8 } },
		{ "arm64: no model name, MHz or packages",
		  "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n\n"
		  "processor\t: 1\nBogoMIPS\t: 50.00\n",
		  { "", 0, 0, 0, 2 } },
		{ "old ARM kernels' \"Processor\" line is no processor entry",
		  "Processor\t: ARMv7 Processor rev 4 (v7l)\nprocessor\t: 0\n", { "", 0, 0, 0, 1 } },
		{ "empty", "", { "", 0, 0, 0, 0 } },
		{ "garbage", "cpu MHz: fast\ncpu cores: many\n:\n\n:::", { "", 0, 0, 0, 0 } },
		/* Found by tests/fuzz/fuzz_cpuinfo: cores x sockets overflowed a long. */
		{ "absurd cpu cores: unknown, never overflowing",
		  "processor\t: 0\nphysical id\t: 0\ncpu cores\t: 9223372036854775807\nphysical id\t: 1\n",
		  { "", 0, 2, 0, 1 } },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *text = strdup(cases[i].text);
		struct cpu_facts got;
		const struct cpu_facts *want = &cases[i].want;

		assert_non_null(text);
		cpuinfo_parse(text, &got);
		free(text);
		if (strcmp(got.model, want->model) || got.mhz != want->mhz ||
		    got.sockets != want->sockets || got.cores != want->cores ||
		    got.threads != want->threads)
			fail_msg("%s: \"%s\" %ld MHz, %ld sockets %ld cores %ld threads", cases[i].what,
				 got.model, got.mhz, got.sockets, got.cores, got.threads);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_q35_uefi),
		cmocka_unit_test(test_server_4dimm_bios),
		cmocka_unit_test(test_desktop_dmi_id),
		cmocka_unit_test(test_empty_tree),
		cmocka_unit_test(test_truncated_dmi_files),
		cmocka_unit_test(test_live_root),
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_json_text),
		cmocka_unit_test(test_disk_transport),
		cmocka_unit_test(test_pci_address),
		cmocka_unit_test(test_cpuinfo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
