/* Gateway addresses: the ws:// or wss:// URL taken apart, and the host name
 * resolved to IP addresses within the exchange's deadline. */
#ifndef EDGE_GATEWAY_URL_H
#define EDGE_GATEWAY_URL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"

#define EDGE_GATEWAY_HOST_SIZE 256	/* a DNS name is at most 253 characters */
#define EDGE_GATEWAY_MAX_ADDRESSES 4	/* addresses tried, in resolver order */

typedef struct edge_gateway_url {
	bool tls;				/* wss:// */
	char host[EDGE_GATEWAY_HOST_SIZE];	/* name or IP literal, no brackets */
	bool ip_literal;			/* host is an IPv4 or IPv6 address */
	unsigned port;
	/* The Host header: an IPv6 literal in brackets, ":port" unless it is
	 * the scheme's default. */
	char host_header[EDGE_GATEWAY_HOST_SIZE + 8];
	char *path;				/* path and query, at least "/" */
} edge_gateway_url;

/* Takes url apart into parsed (whose path the caller frees with
 * edge_gateway_url_free). The scheme must be ws or wss, in any case. User
 * information, an empty host, an IPv6 zone, a bad port and path bytes that
 * cannot go into an HTTP request line are rejected. The fragment is
 * dropped; path and query are kept as they are. Returns EDGE_OK,
 * EDGE_ERR_INVALID with a short reason in why (never the URL itself), or
 * EDGE_ERR_NOMEM. */
edge_err edge_gateway_url_parse(const char *url, edge_gateway_url *parsed,
	char *why, size_t why_size);

void edge_gateway_url_free(edge_gateway_url *parsed);

/* Resolves parsed->host into at most EDGE_GATEWAY_MAX_ADDRESSES numeric
 * addresses (INET6_ADDRSTRLEN bytes each), waiting no later than
 * deadline_us on the CLOCK_MONOTONIC clock. An IP literal needs no lookup.
 * Returns EDGE_OK with *count > 0, EDGE_ERR_TIMEOUT, EDGE_ERR_NOT_FOUND when
 * the name does not resolve, or EDGE_ERR_NOMEM. */
edge_err edge_gateway_url_resolve(const edge_gateway_url *parsed,
	uint64_t deadline_us, char addresses[][INET6_ADDRSTRLEN], size_t *count);

/* Returns the CLOCK_MONOTONIC time in microseconds. */
uint64_t edge_gateway_now_us(void);

#endif
