/* The process main loop shared by every endpoint: one request as plain CGI,
 * or libfcgi's accept loop when started as a FastCGI application. */
#ifndef EDGE_SERVE_H
#define EDGE_SERVE_H

#include "config.h"
#include "request.h"

typedef struct edge_app {
	const char *name;	/* program name for log lines */
	unsigned needs;		/* EDGE_NEED_* settings this endpoint checks */

	/* Runs once per process after the configuration loaded; returns EDGE_OK
	 * or an error already logged. May be NULL. */
	edge_err (*init)(const edge_config *config, void **state);

	/* Handles one request and must write a response. */
	void (*handle)(edge_request *req, const edge_config *config, void *state);

	/* Releases what init made. May be NULL. */
	void (*finish)(void *state);
} edge_app;

/* Runs app and returns the process exit status. A configuration the suite
 * cannot serve stops a FastCGI process at start; in plain CGI mode, where
 * every request is a start, it responds 500 {"detail": "Server misconfigured"}. */
int edge_serve(const edge_app *app);

#endif
