/* mc-edge-admin: operator commands, one file each. */
#ifndef EDGE_ADMIN_H
#define EDGE_ADMIN_H

#include "config.h"

/* A command returns the process exit status: 0 on success, 1 when the check
 * or action failed, 2 for a usage error. */
typedef struct admin_command {
	const char *name;
	const char *usage;	/* arguments after the name */
	const char *summary;
	unsigned needs;		/* EDGE_NEED_* settings it uses */
	int (*run)(const edge_config *config, int argc, char **argv);
} admin_command;

int admin_check_database(const edge_config *config, int argc, char **argv);
int admin_check_limiter(const edge_config *config, int argc, char **argv);
int admin_agent_token(const edge_config *config, int argc, char **argv);
int admin_notifications(const edge_config *config, int argc, char **argv);
int admin_gateway_check(const edge_config *config, int argc, char **argv);
int admin_gateway_send(const edge_config *config, int argc, char **argv);

#endif
