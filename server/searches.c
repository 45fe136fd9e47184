/*
 * Saved searches: GET /api/v1/searches, PUT and DELETE /api/v1/searches/NAME. A saved search
 * is a named query of the search language (lib/query.h); `@NAME` in any search stands for it.
 * A search is checked when saved (it must compile, and may not name another saved search),
 * so that using it later fails only if it was deleted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "query.h"

enum MHD_Result handle_searches_list(struct request *req)
{
	json_t *list = json_array();
	int rc = db_search_list(list);

	if (rc < 0) {
		json_decref(list);
		return respond_error(req, rc);
	}
	return respond_json(req, 200, json_pack("{s:o}", "searches", list));
}

enum MHD_Result handle_search_put(struct request *req)
{
	static const char *const allowed[] = { "query", NULL };
	const char *name = req->cap[0], *text = json_string_value(json_object_get(req->json, "query"));
	struct query q;
	struct query_error qe;
	bool created;
	int rc;

	if (!query_search_name_valid(name))
		return respond_errorf(req, 400, "a saved search's name is 1-%d lower-case letters, digits, '.', '_' or '-'"
				      " (not starting with one of those three)", QUERY_SEARCH_NAME_MAX);
	if ((rc = fields_check(req->json, allowed, NULL)) < 0)
		return respond_error(req, rc);
	if (!text)
		return respond_errorf(req, 400, "\"query\" is required: a search (docs/search.md), e.g. \"tag:db rack=r12\"");
	if ((rc = query_compile(text, 1, &q, &qe)) == -EINVAL)
		return respond_errorf(req, 400, "search: %s (at character %zu)", qe.msg, qe.pos + 1);
	if (rc < 0)
		return respond_errorf(req, 500, "out of memory");
	query_free(&q);
	if ((rc = query_saved_named(text, &qe)) == -EINVAL)
		return respond_errorf(req, 400, "a saved search may not name another (at character %zu): write its terms out",
				      qe.pos + 1);
	if (rc < 0)
		return respond_errorf(req, 500, "out of memory");
	if ((rc = db_search_put(name, text, req->admin.name, &created)) < 0)
		return respond_error(req, rc);
	return respond_json(req, created ? 201 : 200, json_pack("{s:s, s:s}", "name", name, "query", text));
}

enum MHD_Result handle_search_delete(struct request *req)
{
	int rc = db_search_delete(req->cap[0]);

	return rc < 0 ? respond_error(req, rc) : respond_buffer(req, 204, NULL, "", 0);
}
