/* Rate-limit store in Redis: one sorted set per key ("ratelimit:<key>"),
 * decided by one Lua script that touches only that key, so it also runs on
 * Redis Cluster. The script is loaded once and called by its SHA-1 hash,
 * and loaded again after NOSCRIPT (a restarted or flushed server). Time
 * comes from Redis's TIME, so web hosts with skewed clocks agree. Members are
 * "<microseconds>-<unique suffix>", so attempts within one microsecond or
 * from many processes are counted one by one. */
#include "ratelimit.h"
#include "log.h"
#include "redis_url.h"

#include <errno.h>
#include <hiredis.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* After a failed connect, fail at once for this long instead of paying a
 * connect timeout on every request; then try again. */
#define RECONNECT_BACKOFF_MS 1000

/* KEYS[1] key; ARGV[1] limit; ARGV[2] window in ms; ARGV[3] unique member suffix.
 * Returns {allowed (1/0), ms until the oldest counted attempt leaves, remaining}. */
static const char decide_script[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"local limit = tonumber(ARGV[1])\n"
	"local window = tonumber(ARGV[2]) * 1000\n"
	"local since = now - window + 1\n"
	"local counted = redis.call('ZCOUNT', KEYS[1], since, '+inf')\n"
	"local allowed = counted < limit\n"
	"redis.call('ZADD', KEYS[1], now, string.format('%.0f-', now) .. ARGV[3])\n"
	"local size = redis.call('ZCARD', KEYS[1])\n"
	"if size > limit then\n"
	"  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - limit - 1)\n"
	"end\n"
	"redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000)\n"
	"counted = redis.call('ZCOUNT', KEYS[1], since, '+inf')\n"
	"local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf',"
	" 'WITHSCORES', 'LIMIT', 0, 1)\n"
	"local reset = math.ceil((tonumber(oldest[2]) + window - now) / 1000)\n"
	"local remaining = limit - counted\n"
	"if remaining < 0 then remaining = 0 end\n"
	"return {allowed and 1 or 0, reset, remaining}\n";

/* The same decision without recording: KEYS[1] key; ARGV[1] limit; ARGV[2]
 * window in ms. Returns the same three values. */
static const char peek_script[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"local limit = tonumber(ARGV[1])\n"
	"local window = tonumber(ARGV[2]) * 1000\n"
	"local since = now - window + 1\n"
	"local counted = redis.call('ZCOUNT', KEYS[1], since, '+inf')\n"
	"local reset = 0\n"
	"if counted > 0 then\n"
	"  local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf',"
	" 'WITHSCORES', 'LIMIT', 0, 1)\n"
	"  reset = math.ceil((tonumber(oldest[2]) + window - now) / 1000)\n"
	"end\n"
	"local remaining = limit - counted\n"
	"if remaining < 0 then remaining = 0 end\n"
	"return {counted < limit and 1 or 0, reset, remaining}\n";

enum { SCRIPT_DECIDE, SCRIPT_PEEK, SCRIPT_COUNT };
static const char *const scripts[SCRIPT_COUNT] = { decide_script, peek_script };

typedef struct redis_limiter {
	edge_limiter base;
	edge_redis_target target;
	unsigned timeout_ms;
	redisContext *context;		/* NULL while disconnected */
	char script_sha[SCRIPT_COUNT][41];	/* empty until loaded on this connection */
	long long retry_connect_at_ms;
	char connect_error[120];	/* why the last connect failed */
	unsigned long long member_counter;
	char member_prefix[40];		/* per process, random */
} redis_limiter;

static long long
monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void
disconnect(redis_limiter *limiter)
{
	if (limiter->context != NULL)
		redisFree(limiter->context);
	limiter->context = NULL;
	for (int i = 0; i < SCRIPT_COUNT; i++)
		limiter->script_sha[i][0] = '\0';
}

/* Runs one command; returns its reply, or NULL after dropping a broken connection. */
static redisReply *
command(redis_limiter *limiter, int argc, const char **argv)
{
	redisReply *reply = redisCommandArgv(limiter->context, argc, argv, NULL);

	/* A server that stops replying gets the same back-off as one that
	 * refuses connections, so it costs one timeout per second, not one per
	 * request. hiredis reports a read timeout as EAGAIN. */
	if (reply == NULL) {
		bool timed_out = limiter->context->err == REDIS_ERR_IO &&
		    (errno == EAGAIN || errno == EWOULDBLOCK);

		if (timed_out)
			snprintf(limiter->connect_error, sizeof(limiter->connect_error),
			    "%s timed out after %u ms", argv[0], limiter->timeout_ms);
		else
			snprintf(limiter->connect_error, sizeof(limiter->connect_error),
			    "%s failed: %.80s", argv[0], limiter->context->errstr);
		snprintf(limiter->base.failure, sizeof(limiter->base.failure), "%s",
		    limiter->connect_error);
		limiter->retry_connect_at_ms = monotonic_ms() + RECONNECT_BACKOFF_MS;
		disconnect(limiter);
	}
	return reply;
}

/* Sends AUTH and SELECT as the URL requires; false after disconnecting. */
static bool
authenticate(redis_limiter *limiter)
{
	const edge_redis_target *target = &limiter->target;
	redisReply *reply;
	char db[16];

	if (target->password[0] != '\0') {
		const char *with_user[] = { "AUTH", target->user, target->password };
		const char *password_only[] = { "AUTH", target->password };

		reply = target->user[0] != '\0' ? command(limiter, 3, with_user) :
		    command(limiter, 2, password_only);
		if (reply == NULL)
			return false;
		if (reply->type == REDIS_REPLY_ERROR) {
			/* The server's error text never contains the password; it
			 * reaches the log through the throttled store warning. */
			snprintf(limiter->connect_error, sizeof(limiter->connect_error),
			    "AUTH refused: %.80s", reply->str);
			freeReplyObject(reply);
			disconnect(limiter);
			return false;
		}
		freeReplyObject(reply);
	}
	if (target->db != 0) {
		snprintf(db, sizeof(db), "%d", target->db);
		reply = command(limiter, 2, (const char *[]){ "SELECT", db });
		if (reply == NULL)
			return false;
		if (reply->type == REDIS_REPLY_ERROR) {
			snprintf(limiter->connect_error, sizeof(limiter->connect_error),
			    "SELECT %s refused: %.80s", db, reply->str);
			freeReplyObject(reply);
			disconnect(limiter);
			return false;
		}
		freeReplyObject(reply);
	}
	return true;
}

static edge_err
connect_redis(redis_limiter *limiter)
{
	struct timeval timeout = {
		.tv_sec = limiter->timeout_ms / 1000,
		.tv_usec = (limiter->timeout_ms % 1000) * 1000,
	};
	const edge_redis_target *target = &limiter->target;
	long long now = monotonic_ms();

	if (limiter->context != NULL)
		return EDGE_OK;
	if (now < limiter->retry_connect_at_ms) {
		snprintf(limiter->base.failure, sizeof(limiter->base.failure),
		    "%s (next attempt within %d ms)", limiter->connect_error,
		    RECONNECT_BACKOFF_MS);
		return EDGE_ERR_STORE;
	}
	limiter->retry_connect_at_ms = now + RECONNECT_BACKOFF_MS;

	limiter->context = target->socket_path[0] != '\0' ?
	    redisConnectUnixWithTimeout(target->socket_path, timeout) :
	    redisConnectWithTimeout(target->host, target->port, timeout);
	if (limiter->context == NULL || limiter->context->err != 0) {
		snprintf(limiter->connect_error, sizeof(limiter->connect_error),
		    "connecting to %.40s failed: %.50s",
		    target->socket_path[0] != '\0' ? target->socket_path : target->host,
		    limiter->context != NULL ? limiter->context->errstr : "no memory");
		snprintf(limiter->base.failure, sizeof(limiter->base.failure), "%s",
		    limiter->connect_error);
		disconnect(limiter);
		return EDGE_ERR_STORE;
	}
	if (redisSetTimeout(limiter->context, timeout) != REDIS_OK) {
		snprintf(limiter->connect_error, sizeof(limiter->connect_error),
		    "setting the %u ms timeout failed", limiter->timeout_ms);
		disconnect(limiter);
	} else if (!authenticate(limiter)) {
		disconnect(limiter);
	}
	if (limiter->context == NULL) {
		/* command() may have cleared the back-off deadline's reason: keep both set. */
		limiter->retry_connect_at_ms = now + RECONNECT_BACKOFF_MS;
		snprintf(limiter->base.failure, sizeof(limiter->base.failure), "%s",
		    limiter->connect_error);
		return EDGE_ERR_STORE;
	}
	limiter->retry_connect_at_ms = 0;
	return EDGE_OK;
}

static edge_err
load_script(redis_limiter *limiter, int which)
{
	redisReply *reply = command(limiter, 3,
	    (const char *[]){ "SCRIPT", "LOAD", scripts[which] });

	if (reply == NULL)
		return EDGE_ERR_STORE;
	if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
		snprintf(limiter->base.failure, sizeof(limiter->base.failure),
		    "SCRIPT LOAD failed");
		freeReplyObject(reply);
		return EDGE_ERR_STORE;
	}
	memcpy(limiter->script_sha[which], reply->str, 40);
	limiter->script_sha[which][40] = '\0';
	freeReplyObject(reply);
	return EDGE_OK;
}

/* Reads the script's {allowed, reset_ms, remaining} reply. */
static edge_err
read_decision(const redisReply *reply, const edge_rate_rule *rule,
    edge_rate_decision *decision)
{
	long long reset_ms;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
		return EDGE_ERR_STORE;
	for (size_t i = 0; i < 3; i++)
		if (reply->element[i]->type != REDIS_REPLY_INTEGER)
			return EDGE_ERR_STORE;

	reset_ms = reply->element[1]->integer;
	decision->allowed = reply->element[0]->integer == 1;
	decision->limit = rule->count;
	decision->remaining = (unsigned)reply->element[2]->integer;
	decision->reset_s = reset_ms <= 1000 ? 1 : (unsigned)((reset_ms + 999) / 1000);
	decision->retry_after_s = decision->reset_s;
	decision->store_failed = false;
	return EDGE_OK;
}

/* Runs script which on key; member is the attempt's member for the
 * recording script, NULL for the read-only one. */
static edge_err
run_script(redis_limiter *limiter, int which, const char *key,
    const edge_rate_rule *rule, const char *member, edge_rate_decision *decision)
{
	char full_key[EDGE_RATE_KEY_SIZE + 16], count[16], window_ms[24];
	redisReply *reply = NULL;
	edge_err err;

	if ((err = connect_redis(limiter)) != EDGE_OK)
		return err;
	if (limiter->script_sha[which][0] == '\0' &&
	    (err = load_script(limiter, which)) != EDGE_OK)
		return err;

	snprintf(full_key, sizeof(full_key), "ratelimit:%s", key);
	snprintf(count, sizeof(count), "%u", rule->count);
	snprintf(window_ms, sizeof(window_ms), "%llu",
	    (unsigned long long)rule->window_s * 1000);

	/* After a restart or SCRIPT FLUSH the server replies NOSCRIPT: load the script and retry once. */
	for (int attempt = 0; attempt < 2; attempt++) {
		const char *argv[] = { "EVALSHA", limiter->script_sha[which], "1",
		    full_key, count, window_ms, member };

		reply = command(limiter, member != NULL ? 7 : 6, argv);
		if (reply == NULL)
			return EDGE_ERR_STORE;
		if (reply->type != REDIS_REPLY_ERROR ||
		    strncmp(reply->str, "NOSCRIPT", 8) != 0)
			break;
		freeReplyObject(reply);
		reply = NULL;
		if ((err = load_script(limiter, which)) != EDGE_OK)
			return err;
	}
	if (reply == NULL)
		return EDGE_ERR_STORE;
	if (reply->type == REDIS_REPLY_ERROR) {
		/* WRONGTYPE and script errors leave the connection usable. */
		snprintf(limiter->base.failure, sizeof(limiter->base.failure),
		    "script failed: %.100s", reply->str);
		freeReplyObject(reply);
		return EDGE_ERR_STORE;
	}
	err = read_decision(reply, rule, decision);
	if (err != EDGE_OK)
		snprintf(limiter->base.failure, sizeof(limiter->base.failure),
		    "script returned an unexpected reply");
	freeReplyObject(reply);
	return err;
}

static edge_err
redis_hit(edge_limiter *base, const char *key, const edge_rate_rule *rule,
    edge_rate_decision *decision)
{
	redis_limiter *limiter = (redis_limiter *)base;
	char member[48];

	snprintf(member, sizeof(member), "%s%llu", limiter->member_prefix,
	    ++limiter->member_counter);
	return run_script(limiter, SCRIPT_DECIDE, key, rule, member, decision);
}

static edge_err
redis_peek(edge_limiter *base, const char *key, const edge_rate_rule *rule,
    edge_rate_decision *decision)
{
	return run_script((redis_limiter *)base, SCRIPT_PEEK, key, rule, NULL,
	    decision);
}

static void
redis_destroy(edge_limiter *base)
{
	redis_limiter *limiter = (redis_limiter *)base;

	disconnect(limiter);
	OPENSSL_cleanse(limiter->target.password, sizeof(limiter->target.password));
	free(limiter);
}

static const edge_limiter_ops redis_ops = {
	.name = "redis",
	.hit = redis_hit,
	.peek = redis_peek,
	.destroy = redis_destroy,
};

edge_err
edge_limiter_redis_open(const char *url, unsigned timeout_ms,
    edge_limiter **limiter)
{
	redis_limiter *created;
	unsigned char random_bytes[6];
	edge_err err;

	*limiter = NULL;
	if (url == NULL) {
		edge_log(EDGE_LOG_ERROR, "config",
		    "RATE_LIMIT_BACKEND=redis needs RATE_LIMIT_REDIS_URL or RQ_REDIS_URL");
		return EDGE_ERR_CONFIG;
	}
	created = calloc(1, sizeof(*created));
	if (created == NULL)
		return EDGE_ERR_NOMEM;
	if ((err = edge_redis_url_parse(url, &created->target)) != EDGE_OK) {
		free(created);
		return err;
	}
	created->base.ops = &redis_ops;
	created->timeout_ms = timeout_ms;

	/* Members must differ across processes and hosts that share one key. */
	if (RAND_bytes(random_bytes, sizeof(random_bytes)) != 1)
		memset(random_bytes, 0, sizeof(random_bytes));
	snprintf(created->member_prefix, sizeof(created->member_prefix),
	    "%02x%02x%02x%02x%02x%02x-%ld-", random_bytes[0], random_bytes[1],
	    random_bytes[2], random_bytes[3], random_bytes[4], random_bytes[5],
	    (long)getpid());

	/* An unreachable server is an error to report, not a reason to refuse to start. */
	if (connect_redis(created) != EDGE_OK)
		edge_log(EDGE_LOG_ERROR, "redis",
		    "Redis is unreachable at start (%s); requests are decided by "
		    "RATE_LIMIT_FAIL_OPEN until it answers", created->base.failure);
	*limiter = &created->base;
	return EDGE_OK;
}
