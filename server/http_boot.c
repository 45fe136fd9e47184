/* GET /boot.ipxe, GET /ipxe, /healthz and /metrics. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define IPXE_TYPE "text/plain; charset=us-ascii"

enum MHD_Result handle_healthz(struct request *req)
{
	return respond_buffer(req, 200, "text/plain", "ok\n", 3);
}

enum MHD_Result handle_metrics(struct request *req)
{
	char *text = metrics_render();
	enum MHD_Result ret;

	if (!text)
		return respond_error(req, -EIO);
	ret = respond_buffer(req, 200, "text/plain; version=0.0.4", text, strlen(text));
	free(text);
	return ret;
}

enum MHD_Result handle_boot_entry(struct request *req)
{
	char *script = boot_entry_script();
	enum MHD_Result ret;

	if (!script)
		return respond_error(req, -EIO);
	ret = respond_buffer(req, 200, IPXE_TYPE, script, strlen(script));
	free(script);
	return ret;
}

/* An identifier as iPXE sent it: unset settings arrive empty. Values that are not printable
 * ASCII or are unreasonably long are dropped rather than stored. */
static const char *identifier_arg(struct request *req, const char *key)
{
	const char *v = request_arg(req, key);

	if (!v || !*v || strlen(v) > 128)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return NULL;
	return v;
}

enum MHD_Result handle_ipxe(struct request *req)
{
	struct boot_identity ident = { 0 };
	char uuid[UUID_LEN + 1];
	const char *u;
	char *script = NULL;
	enum MHD_Result ret;
	int rc;

	if (mac_parse(request_arg(req, "mac"), ident.mac) < 0)
		return respond_errorf(req, 400, "mac= is required, as aa:bb:cc:dd:ee:ff (iPXE: ${net0/mac})");
	if ((u = identifier_arg(req, "uuid")) && uuid_parse(u, uuid) == 0)
		ident.uuid = uuid;
	ident.serial = identifier_arg(req, "serial");
	ident.vendor = identifier_arg(req, "manufacturer");
	ident.product = identifier_arg(req, "product");
	ident.asset = identifier_arg(req, "asset");
	ident.arch = identifier_arg(req, "arch");
	rc = boot_script_for(&ident, request_arg(req, "platform"), request_peer(req), &script);
	if (rc < 0)
		return respond_error(req, rc);
	ret = respond_buffer(req, 200, IPXE_TYPE, script, strlen(script));
	free(script);
	return ret;
}
