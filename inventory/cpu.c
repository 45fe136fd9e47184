/* Processors: proc/cpuinfo (model, MHz, one entry per logical CPU), the sysfs topology
 * (which logical CPU sits on which core of which package), and SMBIOS for what a running
 * kernel cannot see (populated sockets) or where the others are silent (other arches). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"

#define MAX_PACKAGES 1024 /* distinct "physical id"s remembered; far above real machines */

static bool add_distinct(long *seen, size_t *n, size_t max, long id)
{
	for (size_t i = 0; i < *n; i++)
		if (seen[i] == id)
			return false;
	if (*n < max)
		seen[(*n)++] = id;
	return true;
}

/* Splits "key<TAB>: value" in place; false for lines without a colon. */
static bool split_line(char *line, char **key, char **value)
{
	char *colon = strchr(line, ':');

	if (!colon)
		return false;
	*colon = '\0';
	*key = line;
	*value = colon + 1;
	text_strip(*key);
	text_strip(*value);
	return true;
}

void cpuinfo_parse(char *text, struct cpu_facts *out)
{
	long packages[MAX_PACKAGES];
	size_t npackages = 0;
	long cores_per_package = 0;
	char *line, *next, *key, *value, *end;

	memset(out, 0, sizeof(*out));
	for (line = text; line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (!split_line(line, &key, &value))
			continue;
		if (strcmp(key, "processor") == 0 && isdigit((unsigned char)value[0])) {
			out->threads++;
		} else if (strcmp(key, "model name") == 0 && !out->model[0]) {
			snprintf(out->model, sizeof(out->model), "%s", value);
		} else if (strcmp(key, "cpu MHz") == 0 && !out->mhz) {
			double mhz = strtod(value, &end);

			if (end != value && mhz >= 1 && mhz < 1e6)
				out->mhz = (long)(mhz + 0.5);
		} else if (strcmp(key, "physical id") == 0) {
			long id = strtol(value, &end, 10);

			if (end != value && add_distinct(packages, &npackages, MAX_PACKAGES, id))
				out->sockets = (long)npackages;
		} else if (strcmp(key, "cpu cores") == 0 && !cores_per_package) {
			long n = strtol(value, &end, 10);

			/* At most what SMBIOS can count (16 bits), so that the product with the
			 * sockets (at most MAX_PACKAGES) cannot overflow. */
			if (end != value && n > 0 && n <= 0xffff)
				cores_per_package = n;
		}
	}
	if (cores_per_package)
		out->cores = cores_per_package * (out->sockets ? out->sockets : 1);
}

/* Where one logical CPU sits. */
struct cpu_place {
	long long package, die, core;
};

static int place_cmp(const void *a, const void *b)
{
	const struct cpu_place *x = a, *y = b;

	if (x->package != y->package)
		return x->package < y->package ? -1 : 1;
	if (x->die != y->die)
		return x->die < y->die ? -1 : 1;
	if (x->core != y->core)
		return x->core < y->core ? -1 : 1;
	return 0;
}

static bool is_cpu_dir(const char *name)
{
	if (strncmp(name, "cpu", 3) != 0 || !name[3])
		return false;
	for (const char *p = name + 3; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* Threads, cores and packages of the online CPUs from
 * sys/devices/system/cpu/cpuN/topology; all 0 when there is no topology. */
static void topology_collect(struct inventory *inv, struct cpu_facts *out)
{
	struct cpu_place *places;
	char **names, path[128];
	size_t count, n = 0;

	memset(out, 0, sizeof(*out));
	if (dir_list(inv->root, "sys/devices/system/cpu", strcmp, &names, &count) < 0) {
		inv->oom = true;
		return;
	}
	if (!(places = calloc(count ? count : 1, sizeof(*places)))) {
		inv->oom = true;
		dir_list_free(names, count);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		struct cpu_place *p = &places[n];

		if (!is_cpu_dir(names[i]))
			continue;
		snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/topology/physical_package_id",
			 names[i]);
		if (file_read_integer(inv->root, path, &p->package) < 0)
			continue;
		snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/topology/core_id", names[i]);
		if (file_read_integer(inv->root, path, &p->core) < 0)
			continue;
		/* Core ids repeat across the dies of one package on some CPUs. */
		snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/topology/die_id", names[i]);
		if (file_read_integer(inv->root, path, &p->die) < 0)
			p->die = 0;
		n++;
	}
	dir_list_free(names, count);
	if (n > 0) {
		qsort(places, n, sizeof(*places), place_cmp);
		out->threads = (long)n;
		out->cores = out->sockets = 1;
		for (size_t i = 1; i < n; i++) {
			if (place_cmp(&places[i], &places[i - 1]) != 0)
				out->cores++;
			if (places[i].package != places[i - 1].package)
				out->sockets++;
		}
	}
	free(places);
}

static long first_known(long a, long b, long c)
{
	return a > 0 ? a : b > 0 ? b : c > 0 ? c : 0;
}

static json_t *json_count(long n)
{
	return n > 0 ? json_integer(n) : json_null();
}

void cpu_collect(struct inventory *inv, const struct cpu_facts *smbios)
{
	json_t *cpu = inv_section(inv, "cpu");
	struct cpu_facts info = { .mhz = 0 }, topo = { .mhz = 0 };
	char *text;
	size_t len;

	if (file_read_all(inv->root, "proc/cpuinfo", 64u << 20, &text, &len) == 0) {
		cpuinfo_parse(text, &info);
		free(text);
	}
	topology_collect(inv, &topo);
	inv_set(inv, cpu, "model", json_text(info.model[0] ? info.model : smbios->model));
	/* A running kernel sees online CPUs only; SMBIOS counts the populated sockets. */
	inv_set(inv, cpu, "sockets", json_count(first_known(smbios->sockets, topo.sockets,
							     info.sockets)));
	inv_set(inv, cpu, "cores", json_count(first_known(topo.cores, info.cores, smbios->cores)));
	inv_set(inv, cpu, "threads", json_count(first_known(info.threads, topo.threads,
							     smbios->threads)));
	inv_set(inv, cpu, "mhz", json_count(first_known(info.mhz, smbios->mhz, 0)));
}
