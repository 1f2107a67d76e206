/* Responses: the CGI status line, the configured security headers on every
 * response (errors included), and JSON bodies. Functions named respond_*
 * write the whole response; a handler returns right after calling one. */
#ifndef EDGE_RESPONSE_H
#define EDGE_RESPONSE_H

#include <stddef.h>

#include "config.h"
#include "request.h"

typedef struct edge_header {
	const char *name;
	const char *value;
} edge_header;

/* Sets the security headers added to every later response. */
void edge_response_configure(const edge_config *config);

/* Writes a response with the given status, extra headers and body. A
 * security header is added unless extra already has one of that name. A
 * header whose value contains CR or LF is logged and left out. Writes nothing
 * when the request was already answered. */
void edge_respond(edge_request *req, int status, const edge_header *extra,
	size_t extra_count, const char *body, size_t body_len);

/* Writes a JSON body (already serialized) with Content-Type application/json. */
void edge_respond_json(edge_request *req, int status, const edge_header *extra,
	size_t extra_count, const char *json);

/* Writes {"detail": detail} with the given status. */
void edge_respond_error(edge_request *req, int status, const char *detail,
	const edge_header *extra, size_t extra_count);

/* Writes 429 {"detail": "Too many requests."} with Retry-After after one
 * warning naming the limiter key (an endpoint and a client address). */
void edge_respond_rate_limited(edge_request *req, const char *key,
	unsigned retry_after_s);

/* Returns the reason phrase of an HTTP status code. */
const char *edge_status_reason(int status);

#endif
