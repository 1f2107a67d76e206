/* Gateway URL parsing and name resolution; see gateway_url.h. */
#include "gateway_url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

uint64_t
edge_gateway_now_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

static edge_err
reject(char *why, size_t why_size, const char *reason)
{
	snprintf(why, why_size, "%s", reason);
	return EDGE_ERR_INVALID;
}

/* A DNS name of letters, digits, hyphens, underscores and dots. */
static bool
valid_host_name(const char *host, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = host[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

/* Reads the host part of the authority [start, end) into parsed. *port_at
 * then points at the ':' of a port or at end. */
static edge_err
parse_host(const char *start, const char *end, edge_gateway_url *parsed,
    const char **port_at, char *why, size_t why_size)
{
	unsigned char address[sizeof(struct in6_addr)];
	const char *close;
	size_t len;

	if (*start == '[') {
		close = memchr(start, ']', (size_t)(end - start));
		if (close == NULL)
			return reject(why, why_size, "IPv6 address without ']'");
		len = (size_t)(close - start - 1);
		if (len >= sizeof(parsed->host))
			return reject(why, why_size, "IPv6 address too long");
		memcpy(parsed->host, start + 1, len);
		parsed->host[len] = '\0';
		if (inet_pton(AF_INET6, parsed->host, address) != 1)
			return reject(why, why_size, "invalid IPv6 address");
		parsed->ip_literal = true;
		*port_at = close + 1;
		if (*port_at != end && **port_at != ':')
			return reject(why, why_size, "junk after the IPv6 address");
		return EDGE_OK;
	}

	*port_at = memchr(start, ':', (size_t)(end - start));
	if (*port_at == NULL)
		*port_at = end;
	len = (size_t)(*port_at - start);
	if (!valid_host_name(start, len))
		return reject(why, why_size, "invalid host name");
	memcpy(parsed->host, start, len);
	parsed->host[len] = '\0';
	parsed->ip_literal = inet_pton(AF_INET, parsed->host, address) == 1;
	return EDGE_OK;
}

static edge_err
parse_port(const char *at, const char *end, edge_gateway_url *parsed,
    char *why, size_t why_size)
{
	unsigned port = 0;

	parsed->port = parsed->tls ? 443 : 80;
	if (at == end)
		return EDGE_OK;
	if (++at == end)
		return reject(why, why_size, "empty port");
	for (; at < end; at++) {
		if (*at < '0' || *at > '9')
			return reject(why, why_size, "invalid port");
		port = port * 10 + (unsigned)(*at - '0');
		if (port > 65535)
			return reject(why, why_size, "port out of range");
	}
	if (port == 0)
		return reject(why, why_size, "port out of range");
	parsed->port = port;
	return EDGE_OK;
}

/* Copies path and query up to the fragment, or "/" when the path is empty. */
static edge_err
parse_path(const char *start, edge_gateway_url *parsed, char *why,
    size_t why_size)
{
	size_t len = strcspn(start, "#");
	bool needs_slash = len == 0 || start[0] != '/';

	/* Only printable ASCII can go into the request line unescaped. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)start[i] <= 0x20 || (unsigned char)start[i] >= 0x7f)
			return reject(why, why_size,
			    "path holds a space, control or non-ASCII byte");

	parsed->path = malloc(len + 2);
	if (parsed->path == NULL)
		return EDGE_ERR_NOMEM;
	if (needs_slash)
		parsed->path[0] = '/';
	memcpy(parsed->path + needs_slash, start, len);
	parsed->path[len + needs_slash] = '\0';
	return EDGE_OK;
}

edge_err
edge_gateway_url_parse(const char *url, edge_gateway_url *parsed, char *why,
    size_t why_size)
{
	const char *authority, *end, *port_at;
	bool default_port;
	edge_err err;

	memset(parsed, 0, sizeof(*parsed));
	why[0] = '\0';
	if (url == NULL)
		return reject(why, why_size, "no URL");
	if (strncasecmp(url, "ws://", 5) == 0) {
		authority = url + 5;
	} else if (strncasecmp(url, "wss://", 6) == 0) {
		parsed->tls = true;
		authority = url + 6;
	} else {
		return reject(why, why_size, "scheme is not ws:// or wss://");
	}

	end = authority + strcspn(authority, "/?#");
	if (memchr(authority, '@', (size_t)(end - authority)) != NULL)
		return reject(why, why_size, "user information in the URL");
	if (end == authority)
		return reject(why, why_size, "empty host");
	err = parse_host(authority, end, parsed, &port_at, why, why_size);
	if (err == EDGE_OK)
		err = parse_port(port_at, end, parsed, why, why_size);
	if (err != EDGE_OK)
		return err;

	default_port = parsed->port == (parsed->tls ? 443u : 80u);
	snprintf(parsed->host_header, sizeof(parsed->host_header), "%s%s%s",
	    strchr(parsed->host, ':') != NULL ? "[" : "", parsed->host,
	    strchr(parsed->host, ':') != NULL ? "]" : "");
	if (!default_port) {
		size_t used = strlen(parsed->host_header);

		snprintf(parsed->host_header + used,
		    sizeof(parsed->host_header) - used, ":%u", parsed->port);
	}
	return parse_path(end, parsed, why, why_size);
}

void
edge_gateway_url_free(edge_gateway_url *parsed)
{
	free(parsed->path);
	parsed->path = NULL;
}

/* Copies the numeric form of each result into addresses. */
static size_t
collect_addresses(const struct addrinfo *list,
    char addresses[][INET6_ADDRSTRLEN])
{
	size_t count = 0;

	for (const struct addrinfo *ai = list;
	    ai != NULL && count < EDGE_GATEWAY_MAX_ADDRESSES; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addresses[count],
		    INET6_ADDRSTRLEN, NULL, 0, NI_NUMERICHOST) == 0)
			count++;
	}
	return count;
}

/* A lookup in flight. It is allocated, because a lookup that cannot be
 * cancelled keeps writing into it after the caller has given up. */
typedef struct lookup {
	struct gaicb request;
	struct addrinfo hints;
	char host[EDGE_GATEWAY_HOST_SIZE];
} lookup;

edge_err
edge_gateway_url_resolve(const edge_gateway_url *parsed, uint64_t deadline_us,
    char addresses[][INET6_ADDRSTRLEN], size_t *count)
{
	struct gaicb *requests[1];
	lookup *pending;
	int status;

	*count = 0;
	if (parsed->ip_literal) {
		size_t len = strlen(parsed->host);

		/* inet_pton accepted it, so it fits an address string. */
		if (len >= INET6_ADDRSTRLEN)
			return EDGE_ERR_NOT_FOUND;
		memcpy(addresses[0], parsed->host, len + 1);
		*count = 1;
		return EDGE_OK;
	}

	/* getaddrinfo() alone could block past the deadline on a slow resolver. */
	pending = calloc(1, sizeof(*pending));
	if (pending == NULL)
		return EDGE_ERR_NOMEM;
	snprintf(pending->host, sizeof(pending->host), "%s", parsed->host);
	pending->hints.ai_family = AF_UNSPEC;
	pending->hints.ai_socktype = SOCK_STREAM;
	/* No AI_ADDRCONFIG: it hides ::1 on a host whose only IPv6 address is
	 * loopback, and "localhost" gateways listen there too. */
	pending->request.ar_name = pending->host;
	pending->request.ar_request = &pending->hints;
	requests[0] = &pending->request;
	if (getaddrinfo_a(GAI_NOWAIT, requests, 1, NULL) != 0) {
		free(pending);
		return EDGE_ERR_NOMEM;
	}

	for (;;) {
		uint64_t now = edge_gateway_now_us();
		struct timespec wait;

		status = gai_error(&pending->request);
		if (status != EAI_INPROGRESS)
			break;
		if (now >= deadline_us) {
			/* NOTE: a lookup that cannot be cancelled still owns
			 * pending, so it is left allocated (a few hundred bytes
			 * per stuck lookup). */
			if (gai_cancel(&pending->request) == EAI_CANCELED)
				free(pending);
			return EDGE_ERR_TIMEOUT;
		}
		wait.tv_sec = (time_t)((deadline_us - now) / 1000000u);
		wait.tv_nsec = (long)((deadline_us - now) % 1000000u) * 1000;
		gai_suspend((const struct gaicb *const *)requests, 1, &wait);
	}

	if (status == 0) {
		*count = collect_addresses(pending->request.ar_result, addresses);
		freeaddrinfo(pending->request.ar_result);
	}
	free(pending);
	if (status == EAI_MEMORY)
		return EDGE_ERR_NOMEM;
	return *count > 0 ? EDGE_OK : EDGE_ERR_NOT_FOUND;
}
