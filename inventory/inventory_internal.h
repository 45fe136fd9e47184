/*
 * anemos-inventory internals — a map of the library, one banner per file.
 *
 * Every fact is read from files under a root folder ("/" on a live machine, a fixture tree in
 * tests). inventory.c builds a skeleton holding every key of the contract as null (arrays
 * empty), and each collector overwrites what it can read, so a collector that finds nothing
 * leaves the shape intact. Collectors never fail for missing or malformed input; the only
 * error is out-of-memory, which is sticky in struct inventory and turns the whole result into
 * NULL at the end. The one fact not read from files is what the switches say over LLDP
 * (lldp_listen.c, live only, after inventory_collect): lldp.c parses their frames.
 */
#ifndef ANEMOS_INVENTORY_INTERNAL_H
#define ANEMOS_INVENTORY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "placeholder.h"

#include "ipmi.h"

#include "inventory.h"

/* One collection in progress. */
struct inventory {
	const char *root;  /* filesystem root every path is read under; "/" on a live machine */
	json_t *json;      /* the inventory object in the contract's shape */
	bool oom;          /* set by inv_set/inv_append when jansson ran out of memory */
};

/* What one source says about the processors; 0 or "" where it says nothing. */
struct cpu_facts {
	char model[128];
	long mhz;
	long sockets, cores, threads;
};

/* What the SMBIOS memory devices add up to. */
struct dimm_total {
	unsigned long long bytes; /* sum of the populated devices' sizes */
	size_t count;             /* populated devices (the entries of memory.dimms) */
	bool complete;            /* every populated device has a known size */
};

/* inventory.c: the skeleton, setting values, and the facts too small for a file of their own
 * (firmware mode, total memory). */
json_t *inventory_skeleton(void);
/* Sets obj[key] to value, taking ownership of value; a NULL value (a failed allocation) or a
 * failed set marks the collection out of memory. */
void inv_set(struct inventory *inv, json_t *obj, const char *key, json_t *value);
/* Appends value to array, taking ownership; failures mark the collection out of memory. */
void inv_append(struct inventory *inv, json_t *array, json_t *value);
/* The top-level member `name` of the inventory (a section object or array). */
json_t *inv_section(struct inventory *inv, const char *name);

/* values.c: turning raw firmware and sysfs text into JSON values. */
/* Strips leading and trailing whitespace and control characters in place; returns the new
 * length. */
size_t text_strip(char *s);
/* A JSON string of s stripped; JSON null for NULL or an empty result. Text that is not valid
 * UTF-8 is read as Latin-1. NULL only on out-of-memory. */
json_t *json_text(const char *s);
/* json_text, but placeholders (text_is_placeholder) become JSON null: for firmware strings. */
json_t *json_firmware_text(const char *s);

/* files.c: reading under the root. `rel` paths are relative to the root ("sys/block"). */
/* Joins root and rel into out; -ENAMETOOLONG if it does not fit. */
int path_join(const char *root, const char *rel, char *out, size_t outsz);
/* Reads at most size - 1 bytes of a text file, NUL-terminated and stripped (text_strip);
 * 0 or -errno. */
int file_read_text(const char *root, const char *rel, char *buf, size_t size);
/* Reads a decimal integer file (sysfs style, surrounding whitespace allowed); 0 or -errno
 * (-EINVAL when the text is not one integer). */
int file_read_integer(const char *root, const char *rel, long long *value);
/* Reads a whole file of at most max bytes into a malloc'd buffer (NUL-terminated one byte
 * past *len, for text); -EFBIG when larger, -errno otherwise. The caller frees *data. */
int file_read_all(const char *root, const char *rel, size_t max, char **data, size_t *len);
/* The last component of a symlink's target (a driver's name from ".../drivers/ixgbe");
 * the link need not resolve. 0 or -errno. */
int file_link_name(const char *root, const char *rel, char *buf, size_t size);
/* The canonical path of rel with every symlink resolved, as a path inside the root starting
 * with '/' (the root itself is "/"); -EXDEV when it resolves outside the root, -errno else. */
int file_resolve(const char *root, const char *rel, char *buf, size_t size);
/* True if rel exists (a dangling symlink counts). */
bool file_exists(const char *root, const char *rel);
/* The names in directory rel except "." and "..", sorted by cmp, as a malloc'd array of
 * malloc'd strings; *count 0 and 0 when the directory is missing. -ENOMEM only. */
int dir_list(const char *root, const char *rel, int (*cmp)(const char *, const char *),
	     char ***names, size_t *count);
void dir_list_free(char **names, size_t count);

/* smbios.c: the raw SMBIOS table (sys/firmware/dmi/tables). Versions are major << 8 | minor. */
/* The SMBIOS version an entry point ("_SM3_", "_SM_" or legacy "_DMI_") declares, with the
 * usual firmware quirks corrected; 0 when it is none of these or truncated. */
int smbios_entry_version(const uint8_t *ep, size_t len);
/* Fills system, baseboard, chassis, bios and memory.dimms from a structure table of len
 * bytes, and *cpu / *dimms from its processors and memory devices. version 0 (unknown)
 * still parses, but leaves the UUID null since its byte order is then unknown. Reads
 * nothing outside table[0..len), whatever the table holds. */
void smbios_fill(struct inventory *inv, const uint8_t *table, size_t len, int version,
		 struct cpu_facts *cpu, struct dimm_total *dimms);
/* Reads the root's table and fills as smbios_fill does; -errno (and nothing filled) when the
 * table cannot be read (as a non-root user: it is mode 0400) or is empty. */
int smbios_collect(struct inventory *inv, struct cpu_facts *cpu, struct dimm_total *dimms);
/* Formats a system UUID (type 1, offset 8): SMBIOS >= 2.6 stores the first three fields
 * little-endian, older versions as they print. Lower-case. 0, or -ENODATA (out undefined,
 * no message) when the version is unknown (0) or the UUID is a placeholder. */
int smbios_uuid(const uint8_t raw[16], int version, char out[37]);
/* Bytes of a memory device from its Size field (type 17, offset 0x0C) and, when
 * has_extended, its Extended Size (offset 0x1C, MiB in bits 30:0, used when Size is 0x7FFF).
 * Size bit 15 set means KiB units. 0: no device installed; SMBIOS_SIZE_UNKNOWN (-1, a size
 * and not an error code): unknown size. */
#define SMBIOS_SIZE_UNKNOWN (-1LL)
long long smbios_dimm_size(unsigned size, uint32_t extended, bool has_extended);
/* "Rack Mount Chassis" for chassis type 0x17 (the lock bit 7 is ignored); NULL for
 * "Unknown" and undefined codes. */
const char *smbios_chassis_type(unsigned code);
/* "kcs", "smic", "bt" or "ssif" for an IPMI interface type (type 38, offset 4); NULL else. */
const char *smbios_ipmi_interface(unsigned code);
/* "DDR4" for memory type 0x1A; NULL for "Unknown" and undefined codes. */
const char *smbios_memory_type(unsigned code);

/* bmc.c: the machine's BMC, as "bmc" of the inventory, which has that member only when
 * there is a BMC: SMBIOS type 38 says so (smbios.c), or the kernel's IPMI device answers. */
/* The "bmc" object, made with every key null on first use; NULL when out of memory. */
json_t *bmc_section(struct inventory *inv);
/* Reads the BMC's LAN settings in-band through the root's /dev/ipmi0, when it opens: ip,
 * mac, netmask, gateway, ip_source and channel (the LAN channel). Nothing without the
 * device (no BMC, or the IPMI modules not loaded). */
void bmc_collect(struct inventory *inv);
/* Fills the LAN members of bmc from what the BMC said (0.0.0.0 is no address: null). */
void bmc_fill_lan(struct inventory *inv, json_t *bmc, const struct ipmi_lan *lan, unsigned channel);

/* dmi_id.c: what the kernel exports of SMBIOS in sys/class/dmi/id, readable in part by
 * every user: the fallback when the raw table is root-only. */
void dmi_id_collect(struct inventory *inv);

/* cpu.c: processors from proc/cpuinfo and the sysfs topology, completed by SMBIOS. */
/* Parses cpuinfo text, splitting it in place: model, MHz, threads (processor entries), sockets
 * (distinct "physical id") and cores ("cpu cores" x sockets). */
void cpuinfo_parse(char *text, struct cpu_facts *out);
/* Fills "cpu": per fact, sysfs topology or cpuinfo first, then *smbios; sockets come from
 * SMBIOS first (populated sockets), since a running kernel only sees online CPUs. */
void cpu_collect(struct inventory *inv, const struct cpu_facts *smbios);

/* disks.c: whole disks from sys/block (no partitions, loop, ram, zram, dm-, md, optical). */
void disks_collect(struct inventory *inv);
/* "nvme", "sata", "sas", "usb", "virtio", "mmc", "xen" or "scsi", from the disk's name and
 * its resolved sysfs device path; NULL when it is none of these. */
const char *disk_transport(const char *name, const char *devpath);

/* nics.c: network interfaces backed by a device, from sys/class/net. */
void nics_collect(struct inventory *inv);

/* lldp.c: one LLDPDU (IEEE 802.1AB) as the switch port it describes. */
#define LLDP_TEXT_MAX 768 /* 255 bytes as hex pairs, with colons and the NUL */
/* What a neighbour's LLDPDU says; "" and 0 for what it leaves out. */
struct lldp_neighbor {
	char chassis_id[LLDP_TEXT_MAX];  /* by its subtype: aa:bb:cc:dd:ee:ff for a MAC, an IPv4
					    or IPv6 address, text, or hex when not printable */
	unsigned chassis_id_subtype;     /* 1-7 of 802.1AB (4: MAC, 7: locally assigned) */
	char port_id[LLDP_TEXT_MAX];     /* likewise */
	unsigned port_id_subtype;        /* 1-7 (3: MAC, 5: interface name, 7: local) */
	unsigned ttl;                    /* seconds the information holds; 0: the neighbour is
					    leaving (a shutdown LLDPDU) */
	char port_description[LLDP_TEXT_MAX];
	char system_name[LLDP_TEXT_MAX];
	char system_description[LLDP_TEXT_MAX];
	char mgmt_address[LLDP_TEXT_MAX]; /* the first IPv4 or IPv6 management address */
	unsigned vlan;                   /* IEEE 802.1 Port VLAN ID, 1-4094; 0 when not sent */
};
/* Parses the LLDPDU pdu[0..len) (the frame after its EtherType, Ethernet padding allowed
 * after the End TLV). 0 and *out filled; -EBADMSG when a TLV runs past the end, a length
 * does not fit its type, or Chassis ID, Port ID and TTL are not the first three TLVs, once
 * each (802.1AB's rule for discarding a frame); *out is then undefined. Reads nothing
 * outside pdu[0..len). */
int lldp_parse(const uint8_t *pdu, size_t len, struct lldp_neighbor *out);
/* The NIC's "lldp" object: chassis_id, switch (system name), port (port ID),
 * port_description, vlan, mgmt_address, switch_description; null where not sent. NULL only
 * on out-of-memory. */
json_t *lldp_json(const struct lldp_neighbor *n);

/* pci.c: PCI functions from sys/bus/pci/devices. */
void pci_collect(struct inventory *inv);
/* True for a PCI address "dddd:bb:dd.f" (lower- or upper-case hex). */
bool pci_address_valid(const char *s);

#endif
