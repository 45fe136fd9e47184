/*
 * Hardware drift: what changed in a host's hardware between two of its inventories. Parts
 * are matched by what identifies them, never by their order in the lists: DIMMs and disks
 * by serial (a disk without one by WWN, then by-path), NICs by MAC. A part only in the old
 * inventory was removed, only in the new one added; a removed and an added part in the same
 * place (disk name, DIMM slot, NIC name) were replaced. A DIMM moved to another slot is the
 * same DIMM. The CPU and the BIOS are compared by what they say (model and count, vendor
 * and version). Pure: JSON in, JSON out.
 */
#include <stdio.h>
#include <string.h>

#include "anemosd.h"

/* One kind of part: where its list is, what names it, where it sits, how it reads. */
static const struct part_kind {
	const char *part, *section, *list; /* inventory[section][list], or inventory[list] */
	const char *ids[3];                /* fields tried in order for its identity */
	const char *place;                 /* field saying where it sits */
	const char *words[3];              /* fields that describe it, after the place */
} kinds[] = {
	{ "disk", NULL, "disks", { "serial", "wwn", "by_path" }, "name", { "model", "serial", NULL } },
	{ "dimm", "memory", "dimms", { "serial", NULL, NULL }, "slot", { "manufacturer", "part", "serial" } },
	{ "nic", NULL, "nics", { "mac", NULL, NULL }, "name", { "mac", "driver", NULL } },
};

static json_t *part_list(json_t *inv, const struct part_kind *k)
{
	json_t *list = json_object_get(k->section ? json_object_get(inv, k->section) : inv, k->list);

	return json_is_array(list) ? list : NULL;
}

/* "field=value" of the first identifying field the part has (placeholders are none), or
 * NULL for a part that cannot be told apart from another: such parts are not compared. */
static const char *part_id(json_t *p, const struct part_kind *k, char *buf, size_t size)
{
	for (size_t i = 0; i < 3 && k->ids[i]; i++) {
		const char *v = json_string_value(json_object_get(p, k->ids[i]));

		if (v && !text_is_placeholder(v)) {
			snprintf(buf, size, "%s=%s", k->ids[i], v);
			return buf;
		}
	}
	return NULL;
}

/* The part in words: "sda SAMSUNG MZ7 (serial S1)". */
static json_t *part_words(json_t *p, const struct part_kind *k)
{
	char text[256];
	size_t o = (size_t)snprintf(text, sizeof(text), "%s", json_string_value(json_object_get(p, k->place)) ?
				    json_string_value(json_object_get(p, k->place)) : "?");

	for (size_t i = 0; i < 3 && k->words[i] && o < sizeof(text); i++) {
		const char *v = json_string_value(json_object_get(p, k->words[i]));

		if (v && *v)
			o += (size_t)snprintf(text + o, sizeof(text) - o, " %s%s", strcmp(k->words[i], "serial") ? "" : "serial ", v);
	}
	return json_string(text);
}

/* True when list holds a part of identity id. */
static bool has_part(json_t *list, const struct part_kind *k, const char *id)
{
	char buf[160];
	json_t *p;
	size_t i;

	json_array_foreach(list, i, p) {
		const char *other = part_id(p, k, buf, sizeof(buf));

		if (other && !strcmp(other, id))
			return true;
	}
	return false;
}

/* Appends to out the parts of `from` that `to` lacks, as {"part", "change": change, "what",
 * "place"}. */
static void parts_missing(json_t *from, json_t *to, const struct part_kind *k, const char *change, json_t *out)
{
	char buf[160];
	const char *id;
	json_t *p;
	size_t i;

	json_array_foreach(from, i, p)
		if ((id = part_id(p, k, buf, sizeof(buf))) && !has_part(to, k, id))
			json_array_append_new(out, json_pack("{s:s, s:s, s:o, s:o}", "part", k->part, "change", change,
							     "what", part_words(p, k), "place",
							     json_deep_copy(json_object_get(p, k->place))));
}

/* A removed and an added part in the same place become one "replaced" {"was", "now"}. */
static void pair_replaced(json_t *removed, json_t *added, json_t *out)
{
	json_t *r, *a = NULL;
	size_t i, j;

	json_array_foreach(removed, i, r) {
		json_array_foreach(added, j, a)
			if (json_is_string(json_object_get(r, "place")) &&
			    json_equal(json_object_get(r, "place"), json_object_get(a, "place")))
				break;
		if (j < json_array_size(added)) {
			json_array_append_new(out, json_pack("{s:O, s:s, s:O, s:O}", "part", json_object_get(r, "part"),
							     "change", "replaced", "was", json_object_get(r, "what"),
							     "now", json_object_get(a, "what")));
			json_array_remove(added, j);
		} else {
			json_array_append(out, r);
		}
	}
	json_array_extend(out, added);
}

/* "Intel Xeon 6230 (2 sockets, 80 threads)", "Dell Inc. 2.17.1": a CPU or BIOS in words. */
static json_t *facts_words(json_t *o, const char *const fields[3])
{
	char text[256] = "";
	size_t n = 0;

	for (size_t i = 0; i < 3 && fields[i] && n < sizeof(text); i++) {
		json_t *v = json_object_get(o, fields[i]);

		if (json_is_string(v))
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", n ? " " : "", json_string_value(v));
		else if (json_is_integer(v))
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s %" JSON_INTEGER_FORMAT, n ? ", " : "",
					      fields[i], json_integer_value(v));
	}
	return json_string(text);
}

static void facts_changed(json_t *old, json_t *new, const char *part, const char *const fields[3], json_t *out)
{
	json_t *was, *now;

	if (!json_is_object(old) || !json_is_object(new))
		return;
	was = facts_words(old, fields);
	now = facts_words(new, fields);
	if (!json_equal(was, now))
		json_array_append_new(out, json_pack("{s:s, s:s, s:o, s:o}", "part", part, "change", "changed", "was",
						     was, "now", now));
	else {
		json_decref(was);
		json_decref(now);
	}
}

json_t *inventory_drift(json_t *old, json_t *new)
{
	static const char *const cpu[3] = { "model", "sockets", "threads" };
	static const char *const bios[3] = { "vendor", "version", NULL };
	json_t *out = json_array();

	for (size_t i = 0; out && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		json_t *removed = json_array(), *added = json_array();

		parts_missing(part_list(old, &kinds[i]), part_list(new, &kinds[i]), &kinds[i], "removed", removed);
		parts_missing(part_list(new, &kinds[i]), part_list(old, &kinds[i]), &kinds[i], "added", added);
		pair_replaced(removed, added, out);
		json_decref(removed);
		json_decref(added);
	}
	facts_changed(json_object_get(old, "cpu"), json_object_get(new, "cpu"), "cpu", cpu, out);
	facts_changed(json_object_get(old, "bios"), json_object_get(new, "bios"), "bios", bios, out);
	for (size_t i = 0; i < json_array_size(out); i++)
		json_object_del(json_array_get(out, i), "place");
	return out;
}

char *drift_words(json_t *change)
{
	const char *part = json_string_value(json_object_get(change, "part"));
	const char *what = json_string_value(json_object_get(change, "change"));
	char *text = NULL;

	if (json_object_get(change, "what"))
		return asprintf(&text, "%s %s: %s", part, what, json_string_value(json_object_get(change, "what"))) < 0
			       ? NULL : text;
	return asprintf(&text, "%s %s: %s → %s", part, what, json_string_value(json_object_get(change, "was")),
			json_string_value(json_object_get(change, "now"))) < 0
		       ? NULL : text;
}
