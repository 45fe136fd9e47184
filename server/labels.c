/*
 * Tags and attributes, an operator's own words for a host (`tag:db`, `rack=r12` in a search,
 * lib/query.h). Pure: they change a struct host's JSON texts and set labels_changed; db.c
 * writes the rows. The body's "tags" is an array (the whole new set) or {"add": [...],
 * "remove": [...]}; its "attributes" is an object merged into the host's: a string or number
 * sets one, null removes one.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "anemosd.h"
#include "query.h"

int tag_check(const char *tag)
{
	size_t n = tag ? strlen(tag) : 0;

	if (n == 0 || n > HOST_LABEL_MAX)
		return err_set(-EINVAL, "a tag is 1 to %d characters", HOST_LABEL_MAX);
	if (!isalnum((unsigned char)tag[0]))
		return err_set(-EINVAL, "tag '%s' must start with a letter or digit", tag);
	for (const char *c = tag; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.:-", *c))
			return err_set(-EINVAL, "tag '%s' may hold letters, digits and _ . : - only", tag);
	return 0;
}

int attribute_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > HOST_LABEL_MAX || !islower((unsigned char)name[0]))
		return err_set(-EINVAL, "an attribute name is 1 to %d characters and starts with a lower-case letter",
			       HOST_LABEL_MAX);
	for (const char *c = name; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_' && *c != '-')
			return err_set(-EINVAL, "attribute name '%s' may hold a-z, 0-9, _ and - only", name);
	if (query_key_reserved(name))
		return err_set(-EINVAL, "'%s' is a search key of its own; name the attribute otherwise", name);
	return 0;
}

/* Adds (or with remove, takes out) the tags of list, each checked, to set (a JSON array). */
static int tags_merge(json_t *set, json_t *list, bool remove)
{
	json_t *tag, *have;
	size_t i, j;
	int rc;

	if (list && !json_is_array(list))
		return err_set(-EINVAL, "\"tags.%s\" must be an array of tags", remove ? "remove" : "add");
	json_array_foreach(list, i, tag) {
		char *lower;

		if ((rc = tag_check(json_string_value(tag))) < 0)
			return rc;
		if (!(lower = strdup(json_string_value(tag))))
			return err_set(-ENOMEM, "out of memory");
		for (char *c = lower; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		json_array_foreach(set, j, have)
			if (!strcmp(json_string_value(have), lower))
				break;
		if (remove && j < json_array_size(set))
			json_array_remove(set, j);
		else if (!remove && j == json_array_size(set))
			json_array_append_new(set, json_string(lower));
		free(lower);
	}
	return 0;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Writes set, sorted, as h->tags. */
static int tags_store(struct host *h, json_t *set)
{
	size_t n = json_array_size(set);
	json_t **items = calloc(n ? n : 1, sizeof(*items)), *sorted = json_array();
	char *text;

	if (!items || !sorted) {
		free(items);
		json_decref(sorted);
		return err_set(-ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(set, i);
	qsort(items, n, sizeof(*items), by_text);
	for (size_t i = 0; i < n; i++)
		json_array_append(sorted, items[i]);
	free(items);
	text = json_dumps(sorted, JSON_COMPACT);
	json_decref(sorted);
	if (!text)
		return err_set(-ENOMEM, "out of memory");
	free(h->tags);
	h->tags = text;
	h->labels_changed = true;
	return 0;
}

/* The tags v makes of set: v an array (the new set) or {"add": [...], "remove": [...]}. */
static int tags_change(json_t *set, json_t *v)
{
	static const char *const keys[] = {"add", "remove", NULL};
	int rc;

	if (json_is_array(v))
		return tags_merge(set, v, false);
	if (!json_is_object(v))
		return err_set(-EINVAL, "\"tags\" must be an array, or {\"add\": [...], \"remove\": [...]}");
	if ((rc = fields_check(v, keys, "tags")) < 0 || (rc = tags_merge(set, json_object_get(v, "add"), false)) < 0)
		return rc;
	return tags_merge(set, json_object_get(v, "remove"), true);
}

int tags_apply(struct host *h, json_t *v)
{
	json_t *set = json_is_array(v) ? json_array() : json_loads(h->tags ? h->tags : "[]", 0, NULL);
	int rc;

	if (!set)
		return err_set(-ENOMEM, "out of memory");
	rc = tags_change(set, v);
	if (rc == 0 && json_array_size(set) > HOST_TAGS_MAX)
		rc = err_set(-EINVAL, "a host has at most %d tags", HOST_TAGS_MAX);
	if (rc == 0)
		rc = tags_store(h, set);
	json_decref(set);
	return rc;
}

/* Sets (or with null, removes) one attribute in attrs; numbers are kept as their text. */
static int attribute_set(json_t *attrs, const char *name, json_t *value)
{
	char text[64];
	int rc;

	if ((rc = attribute_name_check(name)) < 0)
		return rc;
	if (json_is_null(value))
		return json_object_del(attrs, name), 0;
	if (json_is_integer(value))
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
	else if (json_is_real(value))
		snprintf(text, sizeof(text), "%.17g", json_real_value(value));
	else if (!json_is_string(value) || !*json_string_value(value) ||
		 strlen(json_string_value(value)) > HOST_ATTR_VALUE_MAX || strpbrk(json_string_value(value), "\r\n"))
		return err_set(-EINVAL, "attribute '%s' must be a string of 1 to %d characters on one line, a number, or "
			       "null to remove it", name, HOST_ATTR_VALUE_MAX);
	json_object_set_new(attrs, name, json_string(json_is_string(value) ? json_string_value(value) : text));
	return 0;
}

int attributes_apply(struct host *h, json_t *v)
{
	json_t *attrs, *value;
	const char *name;
	char *text;
	int rc = 0;

	if (!json_is_object(v))
		return err_set(-EINVAL, "\"attributes\" must be an object of NAME: value (null removes one)");
	if (!(attrs = json_loads(h->attributes ? h->attributes : "{}", 0, NULL)))
		return err_set(-ENOMEM, "out of memory");
	json_object_foreach(v, name, value)
		if ((rc = attribute_set(attrs, name, value)) < 0)
			break;
	if (rc == 0 && json_object_size(attrs) > HOST_ATTRS_MAX)
		rc = err_set(-EINVAL, "a host has at most %d attributes", HOST_ATTRS_MAX);
	if (rc == 0 && !(text = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS)))
		rc = err_set(-ENOMEM, "out of memory");
	if (rc == 0) {
		free(h->attributes);
		h->attributes = text;
		h->labels_changed = true;
	}
	json_decref(attrs);
	return rc;
}
