/* Tests for the rate limiter's shared parts and its in-memory store: the
 * sliding-window decisions, Retry-After, key building, store selection and
 * the fail-open policy. The PostgreSQL store needs a server and is tested
 * elsewhere. Two cases sleep just over one second to let a window pass. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "check.h"
#include "ratelimit.h"

static stderr_capture capture;

static void
sleep_ms(long ms)
{
	struct timespec delay = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&delay, &delay) != 0)
		;
}

static void
test_memory_window(void)
{
	edge_limiter *limiter = NULL;
	edge_rate_rule rule = { 3, 1 };
	edge_rate_decision decision;

	CHECK_INT_EQ(edge_limiter_memory_open(&limiter), EDGE_OK,
	    "memory limiter opens");
	limiter->fail_open = true;

	for (unsigned i = 1; i <= 3; i++) {
		memset(&decision, 0xff, sizeof(decision));
		CHECK_INT_EQ(edge_limiter_check(limiter, "test:192.0.2.1", &rule,
		    &decision), EDGE_OK, "memory limiter check succeeds");
		CHECK(decision.allowed, "memory limiter allows up to count");
		CHECK_INT_EQ(decision.remaining, 3 - i, "memory limiter remaining falls");
		CHECK_INT_EQ(decision.limit, 3, "memory limiter reports limit");
		CHECK(!decision.store_failed, "memory limiter store fine");
	}

	edge_limiter_check(limiter, "test:192.0.2.1", &rule, &decision);
	CHECK(!decision.allowed, "memory limiter refuses over count");
	CHECK_INT_EQ(decision.remaining, 0, "memory limiter refused remaining 0");
	CHECK_INT_EQ(decision.retry_after_s, 1, "memory limiter retry after 1");

	edge_limiter_check(limiter, "test:192.0.2.2", &rule, &decision);
	CHECK(decision.allowed, "memory limiter keys independent");

	/* After the window every recorded attempt has left it. */
	sleep_ms(1100);
	edge_limiter_check(limiter, "test:192.0.2.1", &rule, &decision);
	CHECK(decision.allowed, "memory limiter allows after window");
	CHECK_INT_EQ(decision.remaining, 2, "memory limiter fresh window remaining");
	edge_limiter_close(limiter);
}

/* Refused attempts are recorded too, so a client that keeps trying inside
 * the window is not let through when its first attempts expire. */
static void
test_memory_refusals_recorded(void)
{
	edge_limiter *limiter = NULL;
	edge_rate_rule rule = { 2, 1 };
	edge_rate_decision decision;

	edge_limiter_memory_open(&limiter);
	edge_limiter_check(limiter, "k", &rule, &decision);
	edge_limiter_check(limiter, "k", &rule, &decision);
	sleep_ms(600);
	edge_limiter_check(limiter, "k", &rule, &decision);
	CHECK(!decision.allowed, "memory limiter third refused");
	edge_limiter_check(limiter, "k", &rule, &decision);
	CHECK(!decision.allowed, "memory limiter fourth refused");
	sleep_ms(500);

	/* The first two attempts left the window; the two refusals did not. */
	edge_limiter_check(limiter, "k", &rule, &decision);
	CHECK(!decision.allowed, "memory limiter refusals still count");
	edge_limiter_close(limiter);
}

static void
test_memory_retry_after(void)
{
	edge_limiter *limiter = NULL;
	edge_rate_rule rule = { 1, 60 };
	edge_rate_decision decision;

	edge_limiter_memory_open(&limiter);
	edge_limiter_check(limiter, "k", &rule, &decision);
	CHECK(decision.allowed, "memory limiter one per minute");
	CHECKF(decision.reset_s >= 59 && decision.reset_s <= 60,
	    "memory limiter reset near window", "reset_s %u", decision.reset_s);
	edge_limiter_check(limiter, "k", &rule, &decision);
	CHECK(!decision.allowed, "memory limiter second refused");
	CHECKF(decision.retry_after_s >= 59 && decision.retry_after_s <= 60,
	    "memory limiter retry after window", "retry_after_s %u",
	    decision.retry_after_s);

	/* A changed rule for the same key starts afresh. */
	rule.count = 5;
	edge_limiter_check(limiter, "k", &rule, &decision);
	CHECK(decision.allowed, "memory limiter rule change resets");
	CHECK_INT_EQ(decision.limit, 5, "memory limiter new limit reported");
	edge_limiter_close(limiter);
}

static void
test_memory_many_keys(void)
{
	edge_limiter *limiter = NULL;
	edge_rate_rule rule = { 2, 60 };
	edge_rate_decision decision;
	char key[32];
	size_t refused = 0;

	edge_limiter_memory_open(&limiter);
	for (unsigned i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k:%u", i);
		edge_limiter_check(limiter, key, &rule, &decision);
		refused += !decision.allowed;
	}
	CHECK_INT_EQ(refused, 0, "memory limiter many keys allowed");
	for (unsigned i = 0; i < 20000; i += 997) {
		snprintf(key, sizeof(key), "k:%u", i);
		edge_limiter_check(limiter, key, &rule, &decision);
		edge_limiter_check(limiter, key, &rule, &decision);
		refused += !decision.allowed;
	}
	CHECK_INT_EQ(refused, 21, "memory limiter many keys remembered");
	edge_limiter_close(limiter);
}

/* A store whose every call fails, to exercise the fail-open policy. */
static edge_err
failing_hit(edge_limiter *limiter, const char *key, const edge_rate_rule *rule,
    edge_rate_decision *decision)
{
	(void)limiter;
	(void)key;
	(void)rule;
	memset(decision, 0, sizeof(*decision));
	return EDGE_ERR_TIMEOUT;
}

static void
failing_destroy(edge_limiter *limiter)
{
	(void)limiter;
}

static const edge_limiter_ops failing_ops = {
	.name = "failing",
	.hit = failing_hit,
	.destroy = failing_destroy,
};

static void
test_fail_policy(void)
{
	edge_limiter limiter = { .ops = &failing_ops, .fail_open = true };
	edge_rate_rule rule = { 10, 60 };
	edge_rate_decision decision;
	edge_err first, second;

	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
	capture_begin(&capture);
	first = edge_limiter_check(&limiter, "k", &rule, &decision);
	second = edge_limiter_check(&limiter, "k", &rule, &decision);
	capture_end(&capture);
	CHECK_INT_EQ(first, EDGE_OK, "fail open returns OK");
	CHECK_INT_EQ(second, EDGE_OK, "fail open again OK");
	CHECK(decision.allowed, "fail open allows");
	CHECK(decision.store_failed, "fail open marks store failed");
	CHECK_INT_EQ(capture_line_count(&capture), 1, "fail open warning throttled");
	CHECKF(strstr(capture.text, "failing") != NULL &&
	    strstr(capture.text, "WARNING") != NULL, "fail open warning names store",
	    "log: %s", capture.text);

	limiter.fail_open = false;
	limiter.last_failure_log = 0;
	capture_begin(&capture);
	first = edge_limiter_check(&limiter, "k", &rule, &decision);
	capture_end(&capture);
	CHECK_INT_EQ(first, EDGE_ERR_STORE, "fail closed returns store error");
	CHECK(!decision.allowed, "fail closed refuses");
	CHECK(decision.store_failed, "fail closed marks store failed");
	CHECK(decision.retry_after_s >= 1, "fail closed retry after set");
}

static void
test_open(void)
{
	static edge_limiter sentinel;
	edge_config config;
	edge_limiter *limiter = NULL;

	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
	memset(&config, 0, sizeof(config));
	config.limiter_backend = EDGE_LIMITER_MEMORY;
	config.limiter_fail_open = false;
	capture_begin(&capture);
	CHECK_INT_EQ(edge_limiter_open(&config, NULL, true, &limiter), EDGE_OK,
	    "open memory store");
	capture_end(&capture);
	CHECK(limiter != NULL, "open memory store limiter");
	CHECK(limiter == NULL || !limiter->fail_open, "open copies fail policy");
	CHECK(strstr(capture.text, "memory") != NULL, "open warns memory under CGI");
	edge_limiter_close(limiter);

	config.limiter_backend = EDGE_LIMITER_REDIS;
	limiter = &sentinel;
	capture_begin(&capture);
	CHECK_INT_EQ(edge_limiter_open(&config, NULL, false, &limiter),
	    EDGE_ERR_CONFIG, "open Redis store unavailable");
	capture_end(&capture);
	CHECK(limiter == NULL, "open failure leaves NULL");
	edge_limiter_close(NULL);
	CHECK(true, "close NULL is harmless");
	edge_log_configure(EDGE_LOG_ERROR, EDGE_LOG_TEXT);
}

static void
test_rate_key(void)
{
	char key[EDGE_RATE_KEY_SIZE], extra[300];
	edge_ip ip;

	edge_ip_parse("192.0.2.1", 9, &ip);
	edge_rate_key("webhook-ingest", &ip, NULL, key);
	CHECK_STR_EQ(key, "webhook-ingest:192.0.2.1", "rate key IPv4");
	edge_rate_key("webhook-ingest", &ip, "0f5c9f5e-6a8b-4c1d-9e2f-3a4b5c6d7e8f", key);
	CHECK_STR_EQ(key,
	    "webhook-ingest:192.0.2.1:0f5c9f5e-6a8b-4c1d-9e2f-3a4b5c6d7e8f",
	    "rate key with webhook");

	edge_ip_parse("2001:db8:1:2:3:4:5:6", 20, &ip);
	edge_rate_key("agent-auth", &ip, NULL, key);
	CHECK_STR_EQ(key, "agent-auth:2001:db8:1:2::/64", "rate key IPv6 network");

	memset(&ip, 0, sizeof(ip));
	edge_rate_key("agent-auth", &ip, NULL, key);
	CHECK_STR_EQ(key, "agent-auth:unknown", "rate key without address");

	memset(extra, 'e', sizeof(extra) - 1);
	extra[sizeof(extra) - 1] = '\0';
	edge_ip_parse("192.0.2.1", 9, &ip);
	edge_rate_key("x", &ip, extra, key);
	CHECK_INT_EQ(strlen(key), EDGE_RATE_KEY_SIZE - 1, "rate key long extra cut");
}

int
main(void)
{
	edge_log_configure(EDGE_LOG_ERROR, EDGE_LOG_TEXT);
	test_memory_window();
	test_memory_refusals_recorded();
	test_memory_retry_after();
	test_memory_many_keys();
	test_fail_policy();
	test_open();
	test_rate_key();
	return check_summary();
}
