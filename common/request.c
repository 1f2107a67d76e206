/* CGI and FastCGI requests behind one interface; see request.h. */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Header names longer than this are looked up as absent. */
#define HEADER_NAME_MAX 128

extern char **environ;

const char *
edge_request_param(const edge_request *req, const char *name)
{
	if (req->fcgx != NULL)
		return FCGX_GetParam(name, req->params);
	return getenv(name);
}

const char *
edge_request_header(const edge_request *req, const char *name)
{
	char variable[HEADER_NAME_MAX + 6];
	size_t len = strlen(name);

	/* CGI passes these two without the HTTP_ prefix. */
	if (strcasecmp(name, "Content-Type") == 0)
		return edge_request_param(req, "CONTENT_TYPE");
	if (strcasecmp(name, "Content-Length") == 0)
		return edge_request_param(req, "CONTENT_LENGTH");
	if (len > HEADER_NAME_MAX)
		return NULL;

	memcpy(variable, "HTTP_", 5);
	for (size_t i = 0; i < len; i++)
		variable[5 + i] = name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)name[i]);
	variable[5 + len] = '\0';
	return edge_request_param(req, variable);
}

bool
edge_request_path(const edge_request *req, char *out, size_t out_size)
{
	const char *uri = edge_request_param(req, "REQUEST_URI");
	int written;

	if (uri != NULL && uri[0] != '\0') {
		size_t len = strcspn(uri, "?#");

		if (len >= out_size)
			return false;
		memcpy(out, uri, len);
		out[len] = '\0';
		return true;
	}

	/* Servers without REQUEST_URI (and shells) split the path in two. */
	const char *script = edge_request_param(req, "SCRIPT_NAME");
	const char *info = edge_request_param(req, "PATH_INFO");
	written = snprintf(out, out_size, "%s%s", script != NULL ? script : "",
	    info != NULL ? info : "");
	return written >= 0 && (size_t)written < out_size;
}

void
edge_request_client_ip(const edge_request *req, const edge_config *config,
    edge_ip *client)
{
	const char *header = config->trusted_proxy_header == EDGE_FORWARD_FORWARDED ?
	    "Forwarded" : "X-Forwarded-For";

	edge_client_ip_resolve(edge_request_param(req, "REMOTE_ADDR"),
	    edge_request_header(req, header), config->trusted_proxy_header,
	    &config->trusted_proxies, client);
}

edge_err
edge_request_content_length(const edge_request *req, bool *declared,
    size_t *length)
{
	const char *text = edge_request_param(req, "CONTENT_LENGTH");
	size_t value = 0;

	*declared = false;
	*length = 0;
	if (text == NULL || text[0] == '\0')
		return EDGE_OK;

	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return EDGE_ERR_INVALID;
		/* Refuse before the multiplication would wrap. */
		if (value > (SIZE_MAX - 9) / 10)
			return EDGE_ERR_INVALID;
		value = value * 10 + (size_t)(*p - '0');
	}
	*declared = true;
	*length = value;
	return EDGE_OK;
}

/* Reads up to len bytes; returns the count read, 0 at end of stream, -1 on error. */
static long
read_some(edge_request *req, char *buf, size_t len)
{
	if (len > INT32_MAX)
		len = INT32_MAX;
	if (req->fcgx != NULL) {
		int got = FCGX_GetStr(buf, (int)len, req->fcgx->in);

		if (got == 0 && FCGX_GetError(req->fcgx->in) != 0)
			return -1;
		return got;
	}
	for (;;) {
		ssize_t got = read(STDIN_FILENO, buf, len);

		if (got >= 0)
			return got;
		if (errno != EINTR)
			return -1;
	}
}

edge_err
edge_request_read_body(edge_request *req, bool declared, size_t declared_len,
    size_t limit, char **body, size_t *body_len)
{
	/* Without a declared length, read one byte past the limit to detect overflow. */
	size_t want = declared ? declared_len : limit + 1;
	size_t capacity = want < 65536 ? want : 65536, used = 0;
	char *buf = malloc(capacity + 1);
	edge_err err = EDGE_OK;

	*body = NULL;
	*body_len = 0;
	if (buf == NULL)
		return EDGE_ERR_NOMEM;

	while (used < want) {
		long got;

		if (used == capacity) {
			size_t grown = capacity * 2 < want ? capacity * 2 : want;
			char *bigger = realloc(buf, grown + 1);

			if (bigger == NULL) {
				err = EDGE_ERR_NOMEM;
				goto fail;
			}
			buf = bigger;
			capacity = grown;
		}
		got = read_some(req, buf + used, capacity - used);
		if (got < 0) {
			err = EDGE_ERR_IO;
			goto fail;
		}
		if (got == 0)
			break;
		used += (size_t)got;
	}

	if (declared && used < declared_len) {
		err = EDGE_ERR_SHORT;
		goto fail;
	}
	if (!declared && used > limit) {
		err = EDGE_ERR_TOO_LARGE;
		goto fail;
	}
	buf[used] = '\0';
	*body = buf;
	*body_len = used;
	return EDGE_OK;

fail:
	free(buf);
	return err;
}

edge_err
edge_request_write(edge_request *req, const void *data, size_t len)
{
	const char *p = data;

	if (req->fcgx != NULL) {
		if (len > INT32_MAX ||
		    FCGX_PutStr(data, (int)len, req->fcgx->out) != (int)len)
			return EDGE_ERR_IO;
		return EDGE_OK;
	}
	while (len > 0) {
		ssize_t put = write(STDOUT_FILENO, p, len);

		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return EDGE_ERR_IO;
		p += put;
		len -= (size_t)put;
	}
	return EDGE_OK;
}
