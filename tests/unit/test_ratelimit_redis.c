/* Tests for the Redis rate-limit store against a private redis-server that
 * this program starts on a unix socket in a temporary folder (and, for AUTH,
 * on a loopback port) and stops at the end. Skipped when redis-server is not
 * installed. Some cases sleep just over a second to let a window pass. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "capture.h"
#include "check.h"
#include "log.h"
#include "ratelimit.h"

static stderr_capture capture;
static char folder[] = "/tmp/edge-redis-test.XXXXXX";
static char socket_path[160];

static void
sleep_ms(long ms)
{
	struct timespec delay = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&delay, &delay) != 0)
		;
}

static bool
redis_server_installed(void)
{
	return system("command -v redis-server >/dev/null 2>&1") == 0;
}

/* Starts redis-server with the given listening options, without
 * persistence, its files in the test folder. Returns its pid or -1. The
 * caller waits until it is ready. */
static pid_t
start_server(const char *const *listen_args, size_t listen_count,
    const char *name)
{
	char log_path[200], pid_dir[200];
	const char *argv[24];
	size_t argc = 0;
	pid_t pid;

	snprintf(log_path, sizeof(log_path), "%s/%s.log", folder, name);
	snprintf(pid_dir, sizeof(pid_dir), "%s", folder);
	argv[argc++] = "redis-server";
	for (size_t i = 0; i < listen_count; i++)
		argv[argc++] = listen_args[i];
	argv[argc++] = "--save";
	argv[argc++] = "";
	argv[argc++] = "--appendonly";
	argv[argc++] = "no";
	argv[argc++] = "--dir";
	argv[argc++] = pid_dir;
	argv[argc++] = "--logfile";
	argv[argc++] = log_path;
	argv[argc] = NULL;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void
stop_server(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Waits until PING over the unix socket gets a reply. */
static bool
wait_for_socket(const char *path)
{
	for (int i = 0; i < 100; i++) {
		redisContext *context = redisConnectUnix(path);

		if (context != NULL && context->err == 0) {
			redisReply *reply = redisCommand(context, "PING");
			bool up = reply != NULL && reply->type == REDIS_REPLY_STATUS;

			freeReplyObject(reply);
			redisFree(context);
			if (up)
				return true;
		} else if (context != NULL) {
			redisFree(context);
		}
		sleep_ms(50);
	}
	return false;
}

static pid_t
start_socket_server(void)
{
	const char *args[] = { "--port", "0", "--unixsocket", socket_path,
	    "--unixsocketperm", "700" };
	pid_t pid = start_server(args, 6, "socket");

	if (pid > 0 && !wait_for_socket(socket_path)) {
		stop_server(pid);
		return -1;
	}
	return pid;
}

/* Runs one command on a separate connection and returns its integer reply
 * (or -1), to look at the store's state from outside. */
static long long
inspect(const char *format, const char *key)
{
	redisContext *context = redisConnectUnix(socket_path);
	redisReply *reply;
	long long value = -1;

	if (context == NULL || context->err != 0) {
		if (context != NULL)
			redisFree(context);
		return -1;
	}
	reply = redisCommand(context, format, key);
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		value = reply->integer;
	freeReplyObject(reply);
	redisFree(context);
	return value;
}

static void
test_window(edge_limiter *limiter)
{
	edge_rate_rule rule = { 3, 1 };
	edge_rate_decision decision;

	for (unsigned i = 1; i <= 3; i++) {
		memset(&decision, 0xff, sizeof(decision));
		CHECK_INT_EQ(edge_limiter_check(limiter, "test:192.0.2.1", &rule,
		    &decision), EDGE_OK, "redis limiter check succeeds");
		CHECK(decision.allowed, "redis limiter allows up to count");
		CHECK_INT_EQ(decision.remaining, 3 - i, "redis limiter remaining falls");
		CHECK(!decision.store_failed, "redis limiter store fine");
	}
	edge_limiter_check(limiter, "test:192.0.2.1", &rule, &decision);
	CHECK(!decision.allowed, "redis limiter refuses over count");
	CHECK_INT_EQ(decision.remaining, 0, "redis limiter refused remaining 0");
	CHECK_INT_EQ(decision.retry_after_s, 1, "redis limiter retry after 1");
	CHECK_INT_EQ(inspect("ZCARD %s", "ratelimit:test:192.0.2.1"), 3,
	    "redis limiter keeps count entries");
	{
		long long ttl = inspect("PTTL %s", "ratelimit:test:192.0.2.1");

		CHECKF(ttl > 1000 && ttl <= 2000, "redis limiter key expires",
		    "PTTL %lld ms", ttl);
	}

	edge_limiter_check(limiter, "test:192.0.2.2", &rule, &decision);
	CHECK(decision.allowed, "redis limiter keys independent");
	sleep_ms(1100);
	edge_limiter_check(limiter, "test:192.0.2.1", &rule, &decision);
	CHECK(decision.allowed, "redis limiter allows after window");
	CHECK_INT_EQ(decision.remaining, 2, "redis limiter fresh window remaining");
}

static void
test_refusals_recorded(edge_limiter *limiter)
{
	edge_rate_rule rule = { 2, 1 };
	edge_rate_decision decision;

	edge_limiter_check(limiter, "refusals", &rule, &decision);
	edge_limiter_check(limiter, "refusals", &rule, &decision);
	sleep_ms(600);
	edge_limiter_check(limiter, "refusals", &rule, &decision);
	CHECK(!decision.allowed, "redis limiter third refused");
	edge_limiter_check(limiter, "refusals", &rule, &decision);
	sleep_ms(500);
	edge_limiter_check(limiter, "refusals", &rule, &decision);
	CHECK(!decision.allowed, "redis limiter refusals still count");
}

static void
test_retry_after(edge_limiter *limiter)
{
	edge_rate_rule rule = { 1, 60 };
	edge_rate_decision decision;

	edge_limiter_check(limiter, "minute", &rule, &decision);
	CHECK(decision.allowed, "redis limiter one per minute");
	edge_limiter_check(limiter, "minute", &rule, &decision);
	CHECK(!decision.allowed, "redis limiter second refused");
	CHECKF(decision.retry_after_s >= 59 && decision.retry_after_s <= 60,
	    "redis limiter retry after window", "retry_after_s %u",
	    decision.retry_after_s);
}

/* The store recovers from a flushed script cache and from a key of the
 * wrong type without losing its connection. */
static void
test_server_states(edge_limiter *limiter)
{
	edge_rate_rule rule = { 5, 60 };
	edge_rate_decision decision;
	redisContext *context = redisConnectUnix(socket_path);
	redisReply *reply;

	reply = redisCommand(context, "SCRIPT FLUSH");
	freeReplyObject(reply);
	CHECK_INT_EQ(edge_limiter_check(limiter, "after-flush", &rule, &decision),
	    EDGE_OK, "redis limiter reloads flushed script");
	CHECK(decision.allowed, "redis limiter allows after flush");
	CHECK(!decision.store_failed, "redis limiter store fine after flush");

	reply = redisCommand(context, "SET %s %s", "ratelimit:wrong-type", "x");
	freeReplyObject(reply);
	redisFree(context);
	CHECK_INT_EQ(limiter->ops->hit(limiter, "wrong-type", &rule, &decision),
	    EDGE_ERR_STORE, "redis limiter wrong type fails");
	CHECK_INT_EQ(limiter->ops->hit(limiter, "right-type", &rule, &decision),
	    EDGE_OK, "redis limiter usable after error");
}

static void
test_server_gone(edge_limiter *limiter, pid_t *server)
{
	edge_rate_rule rule = { 5, 60 };
	edge_rate_decision decision;
	edge_err err;

	stop_server(*server);
	*server = -1;

	limiter->fail_open = true;
	capture_begin(&capture);
	err = edge_limiter_check(limiter, "gone", &rule, &decision);
	capture_end(&capture);
	CHECK_INT_EQ(err, EDGE_OK, "redis limiter down fails open");
	CHECK(decision.allowed, "redis limiter down allows when open");
	CHECK(decision.store_failed, "redis limiter down marks failure");
	CHECKF(strstr(capture.text, "WARNING") != NULL, "redis limiter down warns",
	    "log: %s", capture.text);

	limiter->fail_open = false;
	err = edge_limiter_check(limiter, "gone", &rule, &decision);
	CHECK_INT_EQ(err, EDGE_ERR_STORE, "redis limiter down fails closed");
	CHECK(!decision.allowed, "redis limiter down refuses when closed");
	limiter->fail_open = true;

	/* Restarted, the server is used again once the reconnect backoff ends. */
	*server = start_socket_server();
	if (*server < 0) {
		CHECK(false, "redis server restarts");
		return;
	}
	sleep_ms(1100);
	err = limiter->ops->hit(limiter, "back", &rule, &decision);
	CHECK_INT_EQ(err, EDGE_OK, "redis limiter reconnects");
}

static void
test_unreachable_at_start(void)
{
	char url[220];
	edge_limiter *limiter = NULL;
	edge_rate_rule rule = { 5, 60 };
	edge_rate_decision decision;
	edge_err err;

	snprintf(url, sizeof(url), "unix:%s/missing.sock", folder);
	capture_begin(&capture);
	err = edge_limiter_redis_open(url, 50, &limiter);
	capture_end(&capture);
	CHECK_INT_EQ(err, EDGE_OK, "redis unreachable still opens");
	CHECKF(strstr(capture.text, "ERROR") != NULL, "redis unreachable logged",
	    "log: %s", capture.text);
	if (limiter == NULL)
		return;
	CHECK_INT_EQ(limiter->ops->hit(limiter, "k", &rule, &decision),
	    EDGE_ERR_STORE, "redis unreachable hit fails");
	edge_limiter_close(limiter);

	capture_begin(&capture);
	err = edge_limiter_redis_open(NULL, 50, &limiter);
	capture_end(&capture);
	CHECK_INT_EQ(err, EDGE_ERR_CONFIG, "redis missing URL rejected");
	CHECK(limiter == NULL, "redis missing URL no limiter");
}

/* Returns true when the named server's log reports that it accepts connections. */
static bool
log_says_ready(const char *name)
{
	char path[200], line[512];
	bool ready = false;
	FILE *log;

	snprintf(path, sizeof(path), "%s/%s.log", folder, name);
	log = fopen(path, "r");
	if (log == NULL)
		return false;
	while (!ready && fgets(line, sizeof(line), log) != NULL)
		ready = strstr(line, "Ready to accept connections") != NULL;
	fclose(log);
	return ready;
}

/* AUTH with the right and a wrong password, on a loopback TCP port. */
static void
test_auth(void)
{
	char port[8], url[160];
	const char *args[] = { "--port", port, "--bind", "127.0.0.1",
	    "--requirepass", "hunter2-redis" };
	edge_limiter *limiter = NULL;
	edge_rate_rule rule = { 5, 60 };
	edge_rate_decision decision;
	pid_t server = -1;
	bool up = false;

	/* The port is derived from the process id, and another one is tried
	 * when it is taken. Only this server's own log line proves that it
	 * listens, since another program may accept connections on a taken port. */
	for (int attempt = 0; attempt < 5 && !up; attempt++) {
		snprintf(port, sizeof(port), "%d",
		    20000 + (getpid() * 7 + attempt * 131) % 40000);
		server = start_server(args, 6, "auth");
		for (int i = 0; i < 100 && !up; i++) {
			if (waitpid(server, NULL, WNOHANG) == server)
				break;
			up = log_says_ready("auth");
			if (!up)
				sleep_ms(50);
		}
		if (!up)
			stop_server(server);
	}
	if (!up) {
		check_skip("redis limiter AUTH", "no loopback port for redis-server");
		return;
	}

	snprintf(url, sizeof(url), "redis://:hunter2-redis@127.0.0.1:%s/3", port);
	edge_limiter_redis_open(url, 500, &limiter);
	CHECK_INT_EQ(limiter->ops->hit(limiter, "auth", &rule, &decision), EDGE_OK,
	    "redis limiter AUTH accepted");
	edge_limiter_close(limiter);

	snprintf(url, sizeof(url), "redis://:wrong-password@127.0.0.1:%s", port);
	capture_begin(&capture);
	edge_limiter_redis_open(url, 500, &limiter);
	capture_end(&capture);
	CHECK(limiter != NULL, "redis limiter wrong AUTH opens");
	if (limiter != NULL)
		CHECK_INT_EQ(limiter->ops->hit(limiter, "auth", &rule, &decision),
		    EDGE_ERR_STORE, "redis limiter wrong AUTH fails");
	CHECKF(strstr(capture.text, "wrong-password") == NULL,
	    "redis limiter AUTH log hides password", "log: %s", capture.text);
	edge_limiter_close(limiter);
	stop_server(server);
}

int
main(void)
{
	edge_limiter *limiter = NULL;
	char url[220];
	pid_t server;

	if (!redis_server_installed()) {
		check_skip("redis limiter", "redis-server is not installed");
		return check_summary();
	}
	if (mkdtemp(folder) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(socket_path, sizeof(socket_path), "%s/redis.sock", folder);
	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);

	/* As edge_serve does: a write to a Redis that went away must fail, not kill. */
	signal(SIGPIPE, SIG_IGN);

	server = start_socket_server();
	CHECK(server > 0, "redis server starts");
	if (server > 0) {
		snprintf(url, sizeof(url), "unix:%s", socket_path);
		CHECK_INT_EQ(edge_limiter_redis_open(url, 500, &limiter), EDGE_OK,
		    "redis limiter opens");
		if (limiter != NULL) {
			limiter->fail_open = true;
			test_window(limiter);
			test_refusals_recorded(limiter);
			test_retry_after(limiter);
			test_server_states(limiter);
			test_server_gone(limiter, &server);
			edge_limiter_close(limiter);
		}
		stop_server(server);
	}
	test_unreachable_at_start();
	test_auth();

	{
		char command[260];

		snprintf(command, sizeof(command), "rm -rf '%s'", folder);
		if (system(command) != 0)
			fprintf(stderr, "could not remove %s\n", folder);
	}
	return check_summary();
}
