/* mc-edge-dispatcher: a long-running process that claims due rows of
 * edge_notification_outbox and sends each as chat.send to the target
 * agent's session through the board's gateway. Several dispatchers, on one
 * host or several, may run against one database. Claims use FOR UPDATE SKIP
 * LOCKED, so no row is sent by two of them at once.
 *
 * It waits for work on a unix datagram socket that webhook-ingest pokes after
 * each stored payload, and at most DISPATCH_POLL_MS, or less when a retry
 * falls due sooner. SIGTERM or SIGINT stops it. The send in progress
 * finishes within its budget and is recorded, rows claimed but not yet sent
 * are given back, and the exit status is 0. Settings: DATABASE_URL, GATEWAY_*,
 * DISPATCH_* (see settings.c), LOG_LEVEL and LOG_FORMAT. */
#include "dispatcher.h"
#include "log.h"
#include "outbox_wake.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "mc-edge-dispatcher"
/* Minimum time between two claims started by wake-ups, so a flood of
 * datagrams costs the database at most 100 claims per second. */
#define WAKE_MIN_INTERVAL_MS 10
/* Delay after a database failure before the next claim. */
#define STORE_RETRY_MS 1000
/* Lease time a send needs beyond the gateway budget to record its outcome. */
#define LEASE_MARGIN_MS 500

static volatile sig_atomic_t stop_signal;

static void
request_stop(int signal_number)
{
	stop_signal = signal_number;
}

/* Returns true once SIGTERM or SIGINT arrived. They stay blocked outside the
 * wait, so this call accepts a pending one with sigtimedwait(). */
static bool
stop_requested(void)
{
	static const struct timespec no_wait = { 0, 0 };
	sigset_t stops;
	int number;

	if (stop_signal != 0)
		return true;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	number = sigtimedwait(&stops, NULL, &no_wait);
	if (number > 0)
		stop_signal = number;
	return stop_signal != 0;
}

static long long
now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Blocks SIGTERM and SIGINT everywhere but in the wait, so a stop request
 * never interrupts a send or a statement and is seen between them. *waiting
 * receives the signal mask for the wait. */
static void
install_signals(sigset_t *waiting)
{
	struct sigaction action;
	sigset_t stops;

	memset(&action, 0, sizeof(action));
	action.sa_handler = request_stop;
	sigemptyset(&action.sa_mask);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
	signal(SIGPIPE, SIG_IGN);

	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigprocmask(SIG_BLOCK, &stops, waiting);
	sigdelset(waiting, SIGTERM);
	sigdelset(waiting, SIGINT);
}

/* Waits up to wait_ms for a wake-up datagram or a stop signal. */
static void
wait_for_work(int wake_fd, long long wait_ms, const sigset_t *waiting)
{
	struct pollfd pfd = { .fd = wake_fd, .events = POLLIN };
	struct timespec timeout;

	if (wait_ms < 0)
		wait_ms = 0;
	timeout.tv_sec = wait_ms / 1000;
	timeout.tv_nsec = (wait_ms % 1000) * 1000000;
	if (ppoll(&pfd, wake_fd >= 0 ? 1 : 0, &timeout, waiting) > 0)
		edge_outbox_wake_drain(wake_fd);
}

/* Logs a row that the claim closed, killed or deferred. */
static void
log_decision(const outbox_row *row)
{
	if (strcmp(row->action, "throttled") == 0)
		edge_log(EDGE_LOG_DEBUG, "claim", "notification %s of payload %s "
		    "waits: %s", row->id, row->payload_id, row->reason);
	else if (strcmp(row->action, "closed") == 0)
		edge_log(EDGE_LOG_WARNING, "claim", "notification %s of payload %s "
		    "closed: %s", row->id, row->payload_id, row->reason);
	else
		edge_log(EDGE_LOG_ERROR, "claim", "notification %s of payload %s "
		    "is dead: %s", row->id, row->payload_id, row->reason);
}

/* Handles every row of one claim. Rows whose lease could run out during
 * their send, and every row after a stop request, are given back unsent. */
static void
handle_claim(edge_db *db, const edge_gateway_settings *gateway,
    const dispatch_settings *settings, PGresult *result, long long claimed_at)
{
	long long lease_end = claimed_at + settings->lease_ms;
	int count = PQntuples(result);

	for (int i = 0; i < count; i++) {
		outbox_row row;

		outbox_read_row(result, i, &row);
		if (strcmp(row.action, "send") != 0) {
			log_decision(&row);
			continue;
		}
		if (stop_requested() || now_ms() + gateway->timeout_ms +
		    LEASE_MARGIN_MS > lease_end) {
			if (outbox_release(db, &row) == EDGE_OK)
				edge_log(EDGE_LOG_INFO, "claim", "notification %s "
				    "given back unsent (%s)", row.id, stop_signal != 0 ?
				    "stopping" : "lease too short for another send");
			continue;
		}
		dispatch_deliver(db, gateway, settings, &row);
	}
}

/* Opens the wake-up socket, or returns -1 (logged) to rely on polling. */
static int
open_wake_socket(const dispatch_settings *settings)
{
	int fd;

	if (settings->wake_path[0] == '\0') {
		edge_log(EDGE_LOG_INFO, "wake", "DISPATCH_WAKE_SOCKET is blank: "
		    "polling every %u ms only", settings->poll_ms);
		return -1;
	}
	fd = edge_outbox_wake_listen(settings->wake_path);
	if (fd < 0)
		edge_log(EDGE_LOG_WARNING, "wake", "listening on %s failed: %s, "
		    "so polling every %u ms only%s", settings->wake_path,
		    strerror(errno), settings->poll_ms, errno == EADDRINUSE ?
		    " (another dispatcher on this host listens there)" : "");
	else
		edge_log(EDGE_LOG_INFO, "wake", "listening for wake-ups on %s",
		    settings->wake_path);
	return fd;
}

/* Claims and delivers until a stop signal arrives. */
static void
run(edge_db *db, const edge_gateway_settings *gateway,
    const dispatch_settings *settings, const char *worker, int wake_fd,
    const sigset_t *waiting)
{
	long long last_claim = 0;

	while (!stop_requested()) {
		long long wait_ms = settings->poll_ms, claimed_at;
		PGresult *result;
		int count;

		/* Wake-ups arriving faster than this are served by one claim. */
		if (now_ms() - last_claim < WAKE_MIN_INTERVAL_MS)
			wait_for_work(-1, WAKE_MIN_INTERVAL_MS -
			    (now_ms() - last_claim), waiting);
		if (stop_requested())
			break;

		claimed_at = last_claim = now_ms();
		if (outbox_claim(db, settings, worker, &result) != EDGE_OK) {
			wait_for_work(-1, STORE_RETRY_MS, waiting);
			continue;
		}
		count = PQntuples(result);
		handle_claim(db, gateway, settings, result, claimed_at);
		PQclear(result);

		/* A full batch means more rows may be due right now. */
		if ((unsigned)count >= settings->batch || stop_requested())
			continue;
		if (outbox_next_due(db, &wait_ms) != EDGE_OK)
			wait_ms = STORE_RETRY_MS;
		if (wait_ms > settings->poll_ms)
			wait_ms = settings->poll_ms;
		if (wait_ms > 0)
			wait_for_work(wake_fd, wait_ms, waiting);
	}
}

int
main(void)
{
	edge_gateway_settings gateway;
	dispatch_settings settings;
	edge_config config;
	edge_db db;
	sigset_t waiting;
	char host[64] = "unknown", worker[96], throttle[48];
	int wake_fd;

	edge_log_set_program(PROGRAM);
	install_signals(&waiting);
	if (edge_config_load(&config, EDGE_NEED_DATABASE | EDGE_NEED_GATEWAY) !=
	    EDGE_OK)
		return 1;
	edge_gateway_settings_from_config(&config, &gateway);
	if (dispatch_settings_load(&settings, gateway.timeout_ms) != EDGE_OK) {
		edge_config_free(&config);
		return 1;
	}

	/* The claim records this name, so an operator can see which process
	 * claimed a row. */
	gethostname(host, sizeof(host) - 1);
	snprintf(worker, sizeof(worker), "%s:%ld", host, (long)getpid());
	wake_fd = open_wake_socket(&settings);
	edge_db_init(&db, config.database_url, outbox_statements,
	    outbox_statement_count);
	if (settings.throttle.count == 0)
		snprintf(throttle, sizeof(throttle), "off");
	else
		snprintf(throttle, sizeof(throttle), "%u per %u s per session",
		    settings.throttle.count, settings.throttle.window_s);
	edge_log(EDGE_LOG_INFO, "start", "dispatcher %s started: batch %u, lease "
	    "%u ms, retries over %llu ms, throttle %s, poll %u ms", worker,
	    settings.batch, settings.lease_ms, settings.retry_span_ms, throttle,
	    settings.poll_ms);

	run(&db, &gateway, &settings, worker, wake_fd, &waiting);

	edge_log(EDGE_LOG_INFO, "stop", "dispatcher %s stopped on signal %d",
	    worker, (int)stop_signal);
	if (wake_fd >= 0) {
		close(wake_fd);
		unlink(settings.wake_path);
	}
	edge_db_close(&db);
	edge_config_free(&config);
	return 0;
}
