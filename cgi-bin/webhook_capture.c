/* webhook-ingest: the request headers stored beside a payload. */
#include "webhook_ingest.h"
#include "log.h"
#include "signature.h"
#include "utf8.h"

#include <ctype.h>
#include <string.h>

/* Header names longer than this are not captured. */
#define NAME_MAX_LEN 256

/* Turns a CGI variable (HTTP_X_GITHUB_EVENT) into a header name (x-github-event). */
static bool
header_name_of(const char *variable, size_t len, char *out)
{
	if (len == strlen("CONTENT_TYPE") && memcmp(variable, "CONTENT_TYPE", len) == 0) {
		strcpy(out, "content-type");
		return true;
	}
	if (len <= 5 || len - 5 >= NAME_MAX_LEN || memcmp(variable, "HTTP_", 5) != 0)
		return false;
	for (size_t i = 5; i < len; i++)
		out[i - 5] = variable[i] == '_' ? '-' : (char)tolower((unsigned char)variable[i]);
	out[len - 5] = '\0';
	return strcmp(out, "user-agent") == 0 || strncmp(out, "x-", 2) == 0;
}

/* Lower-cases a configured header name and spells '_' as '-', as servers do. */
static void
normalize_name(const char *name, char *out)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < NAME_MAX_LEN; i++)
		out[i] = name[i] == '_' ? '-' : (char)tolower((unsigned char)name[i]);
	out[i] = '\0';
}

/* Appends a header name or value as a JSON string; bytes that are not UTF-8
 * become \xNN text, since PostgreSQL's json type takes only UTF-8. */
static void
append_value(edge_buf *out, const char *value)
{
	size_t len = strlen(value);
	char escaped[8192];

	if (edge_utf8_valid(value, len)) {
		edge_json_append_string(out, value, len);
		return;
	}
	/* Keep the value readable rather than dropping it: bad bytes become \xNN. */
	edge_log_escape(value, len, escaped, sizeof(escaped));
	edge_json_append_string(out, escaped, strlen(escaped));
}

const char *
webhook_printable_header(const char *value, char *out, size_t out_size)
{
	if (value == NULL || edge_utf8_valid(value, strlen(value)))
		return value;
	edge_log_escape(value, strlen(value), out, out_size);
	return out;
}

void
webhook_capture_headers(const edge_request *req,
    const char *own_signature_header, edge_buf *out)
{
	char own[NAME_MAX_LEN] = "", name[NAME_MAX_LEN];
	bool first = true;

	if (own_signature_header != NULL)
		normalize_name(own_signature_header, own);

	edge_buf_append_str(out, "{");
	for (char **param = req->params; *param != NULL; param++) {
		const char *equals = strchr(*param, '=');

		if (equals == NULL ||
		    !header_name_of(*param, (size_t)(equals - *param), name))
			continue;
		if (edge_signature_header_is_known(name) ||
		    (own[0] != '\0' && strcmp(name, own) == 0))
			continue;
		if (!first)
			edge_buf_append_str(out, ", ");
		first = false;
		append_value(out, name);
		edge_buf_append_str(out, ": ");
		append_value(out, equals + 1);
	}
	edge_buf_append_str(out, "}");
}
