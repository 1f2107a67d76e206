/* The CGI and FastCGI main loop; see serve.h. */
#include "serve.h"
#include "log.h"
#include "response.h"

#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

extern char **environ;

static void
new_request_id(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char random_bytes[(EDGE_REQUEST_ID_SIZE - 1) / 2];

	/* An id only correlates log lines; a failed RAND_bytes leaves zeros, which is harmless. */
	memset(random_bytes, 0, sizeof(random_bytes));
	(void)RAND_bytes(random_bytes, sizeof(random_bytes));
	for (size_t i = 0; i < sizeof(random_bytes); i++) {
		out[2 * i] = hex[random_bytes[i] >> 4];
		out[2 * i + 1] = hex[random_bytes[i] & 0xf];
	}
	out[EDGE_REQUEST_ID_SIZE - 1] = '\0';
}

static void
handle_one(const edge_app *app, edge_request *req, const edge_config *config,
    void *state)
{
	new_request_id(req->id);
	edge_log_set_request_id(req->id);
	app->handle(req, config, state);
	if (!req->responded) {
		edge_log(EDGE_LOG_ERROR, "serve", "handler wrote no response");
		edge_respond_error(req, 500, "Internal server error.", NULL, 0);
	}
	edge_log_set_request_id(NULL);
}

static int
serve_cgi(const edge_app *app, edge_config *config, edge_err config_err)
{
	edge_request req = { .fcgx = NULL, .params = environ };
	void *state = NULL;

	if (config_err == EDGE_OK && app->init != NULL)
		config_err = app->init(config, &state);
	if (config_err != EDGE_OK) {
		new_request_id(req.id);
		edge_respond_error(&req, 500, "Server misconfigured", NULL, 0);
		return 0;
	}
	handle_one(app, &req, config, state);
	if (app->finish != NULL)
		app->finish(state);
	return 0;
}

static int
serve_fastcgi(const edge_app *app, edge_config *config)
{
	FCGX_Request fcgx;
	void *state = NULL;

	if (app->init != NULL && app->init(config, &state) != EDGE_OK)
		return 1;
	if (FCGX_InitRequest(&fcgx, 0, 0) != 0) {
		edge_log(EDGE_LOG_ERROR, "serve", "FCGX_InitRequest failed");
		return 1;
	}
	edge_log(EDGE_LOG_INFO, "serve", "FastCGI process ready");

	while (FCGX_Accept_r(&fcgx) >= 0) {
		edge_request req = { .fcgx = &fcgx, .params = fcgx.envp };

		handle_one(app, &req, config, state);
		FCGX_Finish_r(&fcgx);
	}

	if (app->finish != NULL)
		app->finish(state);
	return 0;
}

int
edge_serve(const edge_app *app)
{
	edge_config config;
	edge_err err;
	int status;

	/* A client that disconnects must not kill the process mid-transaction. */
	signal(SIGPIPE, SIG_IGN);
	edge_log_set_program(app->name);
	if (FCGX_Init() != 0) {
		edge_log(EDGE_LOG_ERROR, "serve", "FCGX_Init failed");
		return 1;
	}

	err = edge_config_load(&config, app->needs);
	edge_response_configure(&config);
	if (FCGX_IsCGI()) {
		status = serve_cgi(app, &config, err);
	} else if (err != EDGE_OK) {
		edge_log(EDGE_LOG_ERROR, "serve",
		    "configuration invalid; FastCGI process not started");
		status = 1;
	} else {
		/* The web server stops its FastCGI processes with SIGTERM. A
		 * Ctrl-C at the terminal of a foreground server would reach them
		 * too, and lighttpd restarts them during its shutdown and leaves
		 * them running. */
		signal(SIGINT, SIG_IGN);
		status = serve_fastcgi(app, &config);
	}
	edge_config_free(&config);
	return status;
}
