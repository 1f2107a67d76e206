/* Redis URL parsing; see redis_url.h. */
#include "redis_url.h"
#include "hmac.h"
#include "log.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static edge_err
invalid(const char *problem)
{
	edge_log(EDGE_LOG_ERROR, "config", "RATE_LIMIT_REDIS_URL (or RQ_REDIS_URL) %s",
	    problem);
	return EDGE_ERR_CONFIG;
}

/* Copies text[0..len) into out (out_size bytes), decoding %XX escapes. */
static bool
decode_part(const char *text, size_t len, char *out, size_t out_size)
{
	size_t used = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char byte = (unsigned char)text[i];

		if (byte == '%') {
			if (i + 2 >= len ||
			    !edge_hex_decode(text + i + 1, 2, &byte, 1))
				return false;
			i += 2;
		}
		if (byte == '\0' || used + 1 >= out_size)
			return false;
		out[used++] = (char)byte;
	}
	out[used] = '\0';
	return true;
}

static bool
parse_number(const char *text, size_t len, int max, int *value)
{
	long parsed = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		parsed = parsed * 10 + (text[i] - '0');
	}
	if (parsed > max)
		return false;
	*value = (int)parsed;
	return true;
}

/* Parses "?name=value&..." after the path: db and password are known; any
 * other name, a repeated db or a fragment is an error rather than something
 * silently ignored. */
static edge_err
parse_query(const char *query, edge_redis_target *target, bool have_db)
{
	const char *p;

	if (*query == '\0')
		return EDGE_OK;
	if (*query != '?' || strchr(query, '#') != NULL)
		return invalid("may end only with ?db=N or ?password=... parameters");
	for (p = query + 1; *p != '\0'; ) {
		size_t len = strcspn(p, "&");
		const char *equals = memchr(p, '=', len);
		size_t name_len = equals != NULL ? (size_t)(equals - p) : len;
		const char *value = equals != NULL ? equals + 1 : p + len;
		size_t value_len = (size_t)(p + len - value);

		if (name_len == 2 && strncmp(p, "db", 2) == 0 && equals != NULL) {
			if (have_db)
				return invalid("names the database twice");
			if (!parse_number(value, value_len, 65535, &target->db))
				return invalid("has a db parameter that is not a number");
			have_db = true;
		} else if (name_len == 8 && strncmp(p, "password", 8) == 0 &&
		    equals != NULL) {
			if (!decode_part(value, value_len, target->password,
			    sizeof(target->password)))
				return invalid("has an invalid password parameter");
		} else {
			return invalid("has a query parameter other than db and password");
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return EDGE_OK;
}

static edge_err
parse_unix(const char *rest, edge_redis_target *target)
{
	size_t path_len = strcspn(rest, "?");
	const char *query = rest + path_len;

	/* "unix:///run/redis.sock" and "unix:/run/redis.sock" name the same socket. */
	if (strncmp(rest, "//", 2) == 0) {
		rest += 2;
		path_len -= 2;
	}
	if (path_len == 0 || rest[0] != '/' ||
	    !decode_part(rest, path_len, target->socket_path,
	    sizeof(target->socket_path)))
		return invalid("has an invalid or too long unix socket path");
	return parse_query(query, target, false);
}

static edge_err
parse_tcp(const char *rest, edge_redis_target *target)
{
	size_t authority_len = strcspn(rest, "/?#");
	const char *authority = rest, *at = NULL, *host, *path = rest + authority_len;
	size_t host_len;

	for (const char *p = authority; p < authority + authority_len; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		const char *colon = memchr(authority, ':', (size_t)(at - authority));
		size_t user_len = colon != NULL ? (size_t)(colon - authority) :
		    (size_t)(at - authority);

		/* "redis://:password@host" and "redis://password@host" both mean a password alone. */
		if (colon == NULL) {
			if (!decode_part(authority, user_len, target->password,
			    sizeof(target->password)))
				return invalid("has an invalid password part");
		} else if (!decode_part(authority, user_len, target->user,
		    sizeof(target->user)) ||
		    !decode_part(colon + 1, (size_t)(at - colon - 1),
		    target->password, sizeof(target->password))) {
			return invalid("has an invalid user or password part");
		}
		host = at + 1;
	} else {
		host = authority;
	}

	host_len = (size_t)(authority + authority_len - host);
	target->port = 6379;
	if (host_len > 0 && host[0] == '[') {
		const char *close = memchr(host, ']', host_len);

		if (close == NULL)
			return invalid("has an unclosed [IPv6] host");
		if (close + 1 < host + host_len &&
		    (close[1] != ':' || !parse_number(close + 2,
		    (size_t)(host + host_len - close - 2), 65535, &target->port)))
			return invalid("has an invalid port");
		host_len = (size_t)(close - host - 1);
		host++;
	} else {
		const char *colon = memchr(host, ':', host_len);

		if (colon != NULL) {
			if (!parse_number(colon + 1,
			    (size_t)(host + host_len - colon - 1), 65535, &target->port))
				return invalid("has an invalid port");
			host_len = (size_t)(colon - host);
		}
	}
	if (host_len == 0 || host_len >= sizeof(target->host))
		return invalid("has no host");
	memcpy(target->host, host, host_len);
	target->host[host_len] = '\0';
	if (target->port == 0)
		return invalid("has port 0");

	/* The path is an optional database number; parameters may follow. */
	if (*path == '/') {
		size_t number_len = strcspn(path + 1, "?#");

		if (number_len > 0 && !parse_number(path + 1, number_len, 65535,
		    &target->db))
			return invalid("has a path that is not a database number");
		return parse_query(path + 1 + number_len, target, number_len > 0);
	}
	return parse_query(path, target, false);
}

edge_err
edge_redis_url_parse(const char *url, edge_redis_target *target)
{
	memset(target, 0, sizeof(*target));
	if (strncasecmp(url, "rediss://", 9) == 0)
		return invalid("uses rediss://, but this build's hiredis has no "
		    "TLS; use redis:// on a trusted network or a unix: socket");
	if (strncasecmp(url, "unix:", 5) == 0)
		return parse_unix(url + 5, target);
	if (strncasecmp(url, "redis://", 8) == 0)
		return parse_tcp(url + 8, target);
	return invalid("must start with redis:// or unix:");
}
