/* mc-edge-dispatcher: its DISPATCH_* settings.
 *
 *   DISPATCH_BATCH            rows claimed per claim, 1 to 1000 (default 16)
 *   DISPATCH_BACKOFF_BASE_MS  delay after the first failed attempt, doubled
 *                             after each further one (default 2000)
 *   DISPATCH_BACKOFF_MAX_MS   cap of that delay (default 3600000, one hour)
 *   DISPATCH_RETRY_SPAN_MS    time from the row's creation after which a
 *                             failed attempt makes it dead (default
 *                             86400000, 24 hours); the last retry falls at
 *                             the end of the span
 *   DISPATCH_JITTER_PERCENT   each delay is cut by a random share of up to
 *                             this many percent, so rows that failed
 *                             together do not retry together (default 25)
 *   DISPATCH_LEASE_MS         how long a claim keeps other dispatchers off a
 *                             row; at least GATEWAY_TIMEOUT_MS + 1000
 *                             (default 60000)
 *   DISPATCH_THROTTLE         count/seconds: at most count send attempts per
 *                             agent session in any window of that many
 *                             seconds, across all dispatchers; rows over it
 *                             wait without using an attempt. "off" disables
 *                             it (default 10/60)
 *   DISPATCH_POLL_MS          longest wait between two claims when no
 *                             wake-up arrives (default 1000)
 *   DISPATCH_WAKE_SOCKET      unix datagram socket that webhook-ingest on
 *                             this host pokes after each stored payload;
 *                             blank turns it off (default: see outbox_wake.h)
 */
#include "dispatcher.h"
#include "log.h"
#include "outbox_wake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static edge_err
invalid(const char *variable, const char *expected)
{
	edge_log(EDGE_LOG_ERROR, "config", "%s must be %s", variable, expected);
	return EDGE_ERR_CONFIG;
}

/* Reads variable as a whole number within [min, max], or fallback when it
 * is unset or blank. */
static edge_err
load_number(const char *variable, unsigned long long fallback,
    unsigned long long min, unsigned long long max, unsigned long long *value)
{
	const char *text = getenv(variable);
	char expected[96];
	char *end;

	snprintf(expected, sizeof(expected), "a whole number from %llu to %llu",
	    min, max);
	*value = fallback;
	if (text == NULL || text[0] == '\0')
		return EDGE_OK;
	if (text[0] < '0' || text[0] > '9')
		return invalid(variable, expected);
	errno = 0;
	*value = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || *value < min || *value > max)
		return invalid(variable, expected);
	return EDGE_OK;
}

static edge_err
load_throttle(edge_rate_rule *rule)
{
	const char *text = getenv("DISPATCH_THROTTLE");

	if (text == NULL || text[0] == '\0')
		text = "10/60";
	if (strcmp(text, "off") == 0) {
		rule->count = 0;
		rule->window_s = 1;
		return EDGE_OK;
	}
	if (!edge_rate_rule_parse(text, rule))
		return invalid("DISPATCH_THROTTLE",
		    "count/seconds (for example 10/60) or off");
	return EDGE_OK;
}

edge_err
dispatch_settings_load(dispatch_settings *settings, unsigned gateway_timeout_ms)
{
	unsigned long long batch, base, max, span, jitter, lease, poll;
	edge_err err;

	memset(settings, 0, sizeof(*settings));
	/* Bounds: a delay or lease over a week, or a span over a year, is a
	 * typo, and keeping them small keeps the millisecond arithmetic far
	 * from overflow. */
	if ((err = load_number("DISPATCH_BATCH", 16, 1, 1000, &batch)) != EDGE_OK ||
	    (err = load_number("DISPATCH_BACKOFF_BASE_MS", 2000, 1,
	    604800000, &base)) != EDGE_OK ||
	    (err = load_number("DISPATCH_BACKOFF_MAX_MS", 3600000, 1,
	    604800000, &max)) != EDGE_OK ||
	    (err = load_number("DISPATCH_RETRY_SPAN_MS", 86400000, 0,
	    31536000000ULL, &span)) != EDGE_OK ||
	    (err = load_number("DISPATCH_JITTER_PERCENT", 25, 0, 100,
	    &jitter)) != EDGE_OK ||
	    (err = load_number("DISPATCH_LEASE_MS", 60000, 1000, 604800000,
	    &lease)) != EDGE_OK ||
	    (err = load_number("DISPATCH_POLL_MS", 1000, 10, 3600000,
	    &poll)) != EDGE_OK ||
	    (err = load_throttle(&settings->throttle)) != EDGE_OK)
		return err;
	if (max < base)
		return invalid("DISPATCH_BACKOFF_MAX_MS",
		    "at least DISPATCH_BACKOFF_BASE_MS");
	/* A send may take the whole gateway budget and its outcome must be
	 * recorded before another dispatcher may take the row. */
	if (lease < (unsigned long long)gateway_timeout_ms + 1000)
		return invalid("DISPATCH_LEASE_MS",
		    "at least GATEWAY_TIMEOUT_MS + 1000");
	if (edge_outbox_wake_path(settings->wake_path,
	    sizeof(settings->wake_path)) != 0)
		return invalid("DISPATCH_WAKE_SOCKET",
		    "a path shorter than 108 bytes");

	settings->batch = (unsigned)batch;
	settings->backoff_base_ms = (unsigned)base;
	settings->backoff_max_ms = (unsigned)max;
	settings->retry_span_ms = span;
	settings->jitter_percent = (unsigned)jitter;
	settings->lease_ms = (unsigned)lease;
	settings->poll_ms = (unsigned)poll;
	return EDGE_OK;
}
