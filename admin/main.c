/* mc-edge-admin: command-line tool for operators and deploy scripts. It reads
 * the same environment variables as the FastCGI programs. */
#include "admin.h"
#include "log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const admin_command commands[] = {
	{ "check-database", "", "connect to DATABASE_URL and check that "
	    "sql/schema.sql was applied", EDGE_NEED_DATABASE, admin_check_database },
	{ "check-limiter", "", "record one probe attempt in the configured "
	    "rate-limit store; exit 1 when it does not answer",
	    EDGE_NEED_RATE_LIMIT, admin_check_limiter },
	{ "agent-token", "mint|rotate|revoke AGENT_ID", "mint prints a new agent "
	    "token once and stores its hash and index entry; rotate replaces the "
	    "token; revoke clears it", EDGE_NEED_DATABASE, admin_agent_token },
	{ "notifications", "list [--state STATE] [--limit N] [--json] | "
	    "retry ID...|--dead", "list queued agent notifications (default: "
	    "pending, sending and dead; never payload content); retry puts dead "
	    "or closed ones back to pending with a fresh retry schedule",
	    EDGE_NEED_DATABASE, admin_notifications },
	{ "gateway-check", "GATEWAY_ID", "connect to a gateway of the gateways "
	    "table up to hello-ok and print the protocol; exit 1 on failure",
	    EDGE_NEED_DATABASE | EDGE_NEED_GATEWAY, admin_gateway_check },
	{ "gateway-send", "GATEWAY_ID SESSION_KEY [IDEMPOTENCY_KEY] < MESSAGE",
	    "send standard input (one final newline dropped) to a session with "
	    "chat.send and print the run status; the key defaults to a new UUID",
	    EDGE_NEED_DATABASE | EDGE_NEED_GATEWAY, admin_gateway_send },
};
static const size_t command_count = sizeof(commands) / sizeof(commands[0]);

static void
print_usage(FILE *out)
{
	fprintf(out, "usage: mc-edge-admin COMMAND [ARGUMENTS]\n\ncommands:\n");
	for (size_t i = 0; i < command_count; i++)
		fprintf(out, "  %s%s%s\n      %s\n", commands[i].name,
		    commands[i].usage[0] != '\0' ? " " : "", commands[i].usage,
		    commands[i].summary);
	fprintf(out, "\nSettings come from the environment (DATABASE_URL, "
	    "RATE_LIMIT_BACKEND, ...), as for the FastCGI programs.\n");
	fflush(out);
}

int
main(int argc, char **argv)
{
	const admin_command *command = NULL;
	edge_config config;
	int status;

	/* A store that drops the connection must yield an error, not kill the tool. */
	signal(SIGPIPE, SIG_IGN);
	edge_log_set_program("mc-edge-admin");
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		print_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < command_count; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			command = &commands[i];
	if (command == NULL) {
		fprintf(stderr, "mc-edge-admin: unknown command '%s'\n\n", argv[1]);
		print_usage(stderr);
		return 2;
	}

	if (edge_config_load(&config, command->needs) != EDGE_OK)
		return 1;
	status = command->run(&config, argc - 2, argv + 2);
	edge_config_free(&config);
	return status;
}
