/* Redis connection URLs: redis://[user:password@]host[:port][/db] and
 * unix:/path/to/socket[?db=N]. TLS (rediss://) is refused: Debian's hiredis
 * is built without it, and a silent downgrade to plain TCP would expose the
 * password. */
#ifndef EDGE_REDIS_URL_H
#define EDGE_REDIS_URL_H

#include <stdbool.h>

#include "edge_error.h"

typedef struct edge_redis_target {
	char host[256];		/* empty for a unix socket */
	int port;
	char socket_path[108];	/* empty for TCP; sun_path holds 108 bytes */
	char user[128];		/* empty: AUTH with the password only */
	char password[256];	/* empty: no AUTH */
	int db;
} edge_redis_target;

/* Parses url into target. Returns EDGE_OK or EDGE_ERR_CONFIG after logging
 * what is wrong, never the URL's credentials. */
edge_err edge_redis_url_parse(const char *url, edge_redis_target *target);

#endif
