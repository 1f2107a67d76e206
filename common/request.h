/* One HTTP request as a CGI or FastCGI program receives it: parameters, headers,
 * the body and the output stream, the same way in both modes. */
#ifndef EDGE_REQUEST_H
#define EDGE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <fcgiapp.h>

#include "config.h"
#include "edge_error.h"

#define EDGE_REQUEST_ID_SIZE 17	/* 16 hex digits and NUL */
#define EDGE_PATH_MAX 2048	/* longer paths match no route */

typedef struct edge_request {
	FCGX_Request *fcgx;		/* NULL in plain CGI mode */
	char **params;			/* CGI meta-variables */
	char id[EDGE_REQUEST_ID_SIZE];	/* random, for log lines */
	bool responded;			/* a response has been written */
	int status;			/* its status, once responded */
} edge_request;

/* Returns a CGI meta-variable (REQUEST_METHOD, CONTENT_LENGTH, HTTP_...) or
 * NULL when absent. */
const char *edge_request_param(const edge_request *req, const char *name);

/* Returns the value of the HTTP header named as on the wire ("X-Hub-Signature-256",
 * "Content-Type"), or NULL. Servers pass headers as HTTP_ variables with '-'
 * turned into '_', so "X-A-B" and "X_A_B" cannot be distinguished. */
const char *edge_request_header(const edge_request *req, const char *name);

/* Writes into out the path the client requested: the path part of REQUEST_URI
 * when the server sets it, else SCRIPT_NAME followed by PATH_INFO. The path is
 * not percent-decoded. Returns false when it does not fit in out_size. */
bool edge_request_path(const edge_request *req, char *out, size_t out_size);

/* Parses CONTENT_LENGTH. Returns EDGE_OK with *declared false when it is
 * absent or empty, EDGE_OK with *declared true and *length set, or
 * EDGE_ERR_INVALID when it is not a plain decimal number that fits. */
edge_err edge_request_content_length(const edge_request *req, bool *declared,
	size_t *length);

/* Reads the body into a new buffer (NUL-terminated, *body_len bytes). With a
 * declared length, reads exactly that many bytes and returns EDGE_ERR_SHORT
 * when the stream ends first. Without one, reads to the end of the stream and
 * returns EDGE_ERR_TOO_LARGE once more than limit bytes arrive. Returns
 * EDGE_ERR_NOMEM or EDGE_ERR_IO otherwise; *body is NULL on error. */
edge_err edge_request_read_body(edge_request *req, bool declared,
	size_t declared_len, size_t limit, char **body, size_t *body_len);

/* Resolves the client address from REMOTE_ADDR and, behind a trusted proxy,
 * the forwarding header that TRUSTED_PROXY_HEADER names. */
void edge_request_client_ip(const edge_request *req, const edge_config *config,
	edge_ip *client);

/* Writes len bytes of response to the client. */
edge_err edge_request_write(edge_request *req, const void *data, size_t len);

#endif
