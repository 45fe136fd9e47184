/*
 * Talking to a host's BMC over Redfish (DMTF DSP0266): HTTPS with libcurl, JSON with
 * jansson. The same operations as over IPMI (bmc.c): the power state of the first
 * ComputerSystem (GET /redfish/v1/Systems, then its member), a one-time boot device
 * (PATCH {"Boot": {"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe" or
 * "Hdd", "BootSourceOverrideMode": "UEFI" or "Legacy"}}) and ComputerSystem.Reset.
 *
 * The password goes in libcurl's CURLOPT_PASSWORD (HTTP basic authentication over TLS),
 * never in a URL. Certificates are verified unless the host's settings say "insecure"
 * (BMCs often have self-signed ones). Each request has the BMC timeout as its limit.
 *
 * The request bodies and the reading of answers are pure functions, covered by
 * tests/unit/test_bmc.c: no Redfish service could be run in this project's tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "anemosd.h"

#define ANSWER_MAX (1 << 20) /* a Redfish answer larger than this is refused */

const char *redfish_reset_type(enum bmc_action action, bool on)
{
	switch (action) {
	case BMC_ON: return on ? NULL : "On";
	case BMC_OFF: return on ? "ForceOff" : NULL;
	case BMC_SOFT_OFF: return on ? "GracefulShutdown" : NULL;
	case BMC_CYCLE: return on ? "PowerCycle" : "On";
	case BMC_RESET: return on ? "ForceRestart" : "On";
	default: return NULL;
	}
}

char *redfish_boot_body(enum bmc_boot boot, bool efi)
{
	json_t *o = json_pack("{s:{s:s, s:s, s:s}}", "Boot", "BootSourceOverrideEnabled", "Once",
			      "BootSourceOverrideTarget", boot == BMC_BOOT_NETWORK ? "Pxe" : "Hdd",
			      "BootSourceOverrideMode", efi ? "UEFI" : "Legacy");
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

int redfish_system_path(const char *answer, char *path, size_t pathsz)
{
	json_t *o = json_loads(answer, 0, NULL);
	const char *id = json_string_value(json_object_get(json_array_get(json_object_get(o, "Members"), 0),
							   "@odata.id"));
	int rc = 0;

	if (!id || strncmp(id, "/redfish/v1/Systems/", 20) != 0 || strlen(id) >= pathsz ||
	    strpbrk(id, " ?#\r\n"))
		rc = -EIO;
	else
		snprintf(path, pathsz, "%s", id);
	json_decref(o);
	return rc;
}

int redfish_power_state(const char *answer, bool *on)
{
	json_t *o = json_loads(answer, 0, NULL);
	const char *s = json_string_value(json_object_get(o, "PowerState"));
	int rc = 0;

	if (s && (!strcmp(s, "On") || !strcmp(s, "PoweringOff")))
		*on = true;
	else if (s && (!strcmp(s, "Off") || !strcmp(s, "PoweringOn")))
		*on = false;
	else
		rc = -EIO;
	json_decref(o);
	return rc;
}

int redfish_failure(long status, const char *answer, char *why, size_t whysz)
{
	json_t *o = answer ? json_loads(answer, 0, NULL) : NULL, *err = json_object_get(o, "error");
	const char *msg = json_string_value(json_object_get(
		json_array_get(json_object_get(err, "@Message.ExtendedInfo"), 0), "Message"));

	if (!msg)
		msg = json_string_value(json_object_get(err, "message"));
	snprintf(why, whysz, "HTTP %ld%s%s", status, msg ? ": " : "", msg ? msg : "");
	json_decref(o);
	if (status == 401 || status == 403)
		return -EACCES;
	return status == 503 || status == 504 ? -ETIMEDOUT : -EIO;
}

/* One request's answer, read into memory. */
struct answer {
	char *data;
	size_t len;
};

static size_t answer_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	char *grown;

	if (a->len + size * n > ANSWER_MAX || !(grown = realloc(a->data, a->len + size * n + 1)))
		return 0;
	a->data = grown;
	memcpy(a->data + a->len, ptr, size * n);
	a->len += size * n;
	a->data[a->len] = '\0';
	return size * n;
}

/* method on the BMC's path with body (NULL: none); the answer's body into a->data. 0 for a
 * 2xx, else -errno with the reason in why. */
static int request(CURL *curl, const struct bmc_call *call, const char *method, const char *path,
		   const char *body, struct answer *a, char *why, size_t whysz)
{
	char url[600];
	long status = 0;
	CURLcode c;
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");

	snprintf(url, sizeof(url), strchr(call->address, ':') ? "https://[%s]:%u%s" : "https://%s:%u%s",
		 call->address, call->port ? call->port : 443, path);
	free(a->data);
	a->data = NULL;
	a->len = 0;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	else
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
	c = curl_easy_perform(curl);
	curl_slist_free_all(headers);
	if (c != CURLE_OK) {
		snprintf(why, whysz, "%s %s: %s", method, path, curl_easy_strerror(c));
		return c == CURLE_OPERATION_TIMEDOUT || c == CURLE_COULDNT_CONNECT ? -ETIMEDOUT : -EIO;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status / 100 == 2 ? 0 : redfish_failure(status, a->data, why, whysz);
}

/* The action on a session set up in curl; *on the power state read last. */
static int redfish_act(CURL *curl, const struct bmc_call *call, bool *on, char *why, size_t whysz)
{
	struct answer a = { 0 };
	char system[300], path[400], body[64];
	const char *reset;
	char *boot;
	int rc;

	if ((rc = request(curl, call, "GET", "/redfish/v1/Systems", NULL, &a, why, whysz)) < 0 ||
	    (rc = redfish_system_path(a.data, system, sizeof(system))) < 0 ||
	    (rc = request(curl, call, "GET", system, NULL, &a, why, whysz)) < 0 ||
	    (rc = redfish_power_state(a.data, on)) < 0)
		goto out;
	if (call->boot != BMC_BOOT_NONE) {
		if (!(boot = redfish_boot_body(call->boot, call->efi)))
			return free(a.data), -ENOMEM;
		rc = request(curl, call, "PATCH", system, boot, &a, why, whysz);
		free(boot);
		if (rc < 0)
			goto out;
	}
	if ((reset = redfish_reset_type(call->action, *on))) {
		snprintf(path, sizeof(path), "%s/Actions/ComputerSystem.Reset", system);
		snprintf(body, sizeof(body), "{\"ResetType\":\"%s\"}", reset);
		if ((rc = request(curl, call, "POST", path, body, &a, why, whysz)) < 0 ||
		    (rc = request(curl, call, "GET", system, NULL, &a, why, whysz)) < 0)
			goto out;
		rc = redfish_power_state(a.data, on);
	}
out:
	if (rc == -EIO && !*why)
		snprintf(why, whysz, "the BMC's answer is not the Redfish expected");
	free(a.data);
	return rc;
}

int bmc_redfish_call(const struct bmc_call *call, bool *on, char *why, size_t whysz)
{
	CURL *curl = curl_easy_init();
	int rc;

	*why = '\0';
	if (!curl)
		return (snprintf(why, whysz, "out of memory"), -ENOMEM);
	curl_easy_setopt(curl, CURLOPT_USERNAME, call->username);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, call->password);
	curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, call->insecure ? 0L : 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, call->insecure ? 0L : 2L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(call->timeout_ms ? call->timeout_ms : 10000));
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, answer_write);
	rc = redfish_act(curl, call, on, why, whysz);
	curl_easy_cleanup(curl);
	return rc;
}
