/* Response writing; see response.h. */
#include "response.h"
#include "log.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The head contains the status line, a few headers and the security headers. */
#define HEAD_MAX 4096

static edge_header_setting security_headers[EDGE_SECURITY_HEADER_COUNT];

void
edge_response_configure(const edge_config *config)
{
	memcpy(security_headers, config->security_headers,
	    sizeof(security_headers));
}

const char *
edge_status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

static int
append(char *head, size_t used, const char *name, const char *value)
{
	int written;

	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
		edge_log(EDGE_LOG_ERROR, "response",
		    "header %s has CR, LF or a colon in its name or value; omitted",
		    name);
		return 0;
	}
	written = snprintf(head + used, HEAD_MAX - used, "%s: %s\r\n", name, value);
	if (written < 0 || (size_t)written >= HEAD_MAX - used) {
		edge_log(EDGE_LOG_ERROR, "response", "header %s does not fit; omitted",
		    name);
		head[used] = '\0';
		return 0;
	}
	return written;
}

static bool
has_header(const edge_header *extra, size_t extra_count, const char *name)
{
	for (size_t i = 0; i < extra_count; i++)
		if (strcasecmp(extra[i].name, name) == 0)
			return true;
	return false;
}

void
edge_respond(edge_request *req, int status, const edge_header *extra,
    size_t extra_count, const char *body, size_t body_len)
{
	char head[HEAD_MAX], length[24];
	size_t used;

	if (req->responded)
		return;
	req->responded = true;
	req->status = status;

	used = (size_t)snprintf(head, sizeof(head), "Status: %d %s\r\n", status,
	    edge_status_reason(status));
	for (size_t i = 0; i < extra_count; i++)
		used += (size_t)append(head, used, extra[i].name, extra[i].value);
	for (size_t i = 0; i < EDGE_SECURITY_HEADER_COUNT; i++) {
		const edge_header_setting *setting = &security_headers[i];

		if (setting->value != NULL &&
		    !has_header(extra, extra_count, setting->name))
			used += (size_t)append(head, used, setting->name,
			    setting->value);
	}
	snprintf(length, sizeof(length), "%zu", body_len);
	used += (size_t)append(head, used, "Content-Length", length);
	if (used + 2 < sizeof(head)) {
		memcpy(head + used, "\r\n", 2);
		used += 2;
	}

	if (edge_request_write(req, head, used) != EDGE_OK ||
	    (body_len > 0 && edge_request_write(req, body, body_len) != EDGE_OK))
		edge_log(EDGE_LOG_INFO, "response",
		    "client went away before the %d response was written", status);
}

void
edge_respond_json(edge_request *req, int status, const edge_header *extra,
    size_t extra_count, const char *json)
{
	edge_header headers[16];
	size_t count = 0;

	headers[count++] = (edge_header){ "Content-Type", "application/json" };
	headers[count++] = (edge_header){ "Cache-Control", "no-store" };
	for (size_t i = 0; i < extra_count && count < 16; i++)
		headers[count++] = extra[i];
	edge_respond(req, status, headers, count, json, strlen(json));
}

void
edge_respond_error(edge_request *req, int status, const char *detail,
    const edge_header *extra, size_t extra_count)
{
	json_object *object = json_object_new_object();
	const char *json = NULL;

	if (object != NULL &&
	    json_object_object_add(object, "detail",
	    json_object_new_string(detail)) == 0)
		json = json_object_to_json_string_ext(object,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	/* Without memory for json-c, a constant body still reports what happened. */
	edge_respond_json(req, status, extra, extra_count,
	    json != NULL ? json : "{\"detail\": \"Internal error.\"}");
	json_object_put(object);
}

void
edge_respond_rate_limited(edge_request *req, const char *key,
    unsigned retry_after_s)
{
	char retry[16];

	snprintf(retry, sizeof(retry), "%u", retry_after_s);
	edge_log(EDGE_LOG_WARNING, "ratelimit",
	    "rate limit exceeded for %s; retry after %s s", key, retry);
	edge_respond_error(req, 429, "Too many requests.",
	    (const edge_header[]){ { "Retry-After", retry } }, 1);
}
