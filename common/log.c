/* Logging to standard error; see log.h for the line format and its rules. */
#include "log.h"
#include "utf8.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A log line is cut at this size; a longer event is a bug, not data to keep. */
#define LOG_LINE_MAX 4096

static edge_log_level log_min_level = EDGE_LOG_INFO;
static edge_log_format log_format = EDGE_LOG_TEXT;
static char log_program[32] = "mc-edge";
static char log_request_id[40];

static const char *const level_names[] = {
	[EDGE_LOG_DEBUG] = "DEBUG",
	[EDGE_LOG_INFO] = "INFO",
	[EDGE_LOG_WARNING] = "WARNING",
	[EDGE_LOG_ERROR] = "ERROR",
};

void
edge_log_configure(edge_log_level min_level, edge_log_format format)
{
	log_min_level = min_level;
	log_format = format;
}

void
edge_log_set_program(const char *program)
{
	snprintf(log_program, sizeof(log_program), "%s", program);
}

void
edge_log_set_request_id(const char *request_id)
{
	snprintf(log_request_id, sizeof(log_request_id), "%s",
	    request_id == NULL ? "" : request_id);
}

/* Appends one escape to out; the caller keeps room for it. */
static size_t
put_escape(char *out, bool json, unsigned char byte, bool control)
{
	static const char hex[] = "0123456789abcdef";

	/* JSON has \u00XX for control characters; an invalid byte stays visible as the text \xNN. */
	if (json && control) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[byte >> 4];
		out[5] = hex[byte & 0xf];
		return 6;
	}
	if (json) {
		memcpy(out, "\\\\x", 3);
		out[3] = hex[byte >> 4];
		out[4] = hex[byte & 0xf];
		return 5;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[byte >> 4];
	out[3] = hex[byte & 0xf];
	return 4;
}

/* Escapes text for a text line (json false) or a JSON string (json true). */
static void
escape_for(bool json, const char *text, size_t len, char *out, size_t out_size)
{
	size_t in = 0, used = 0;

	if (out_size == 0)
		return;

	/* Keep room for the longest escape (two 6-byte ones), "..." and the NUL. */
	while (in < len && used + 16 <= out_size) {
		const unsigned char *p = (const unsigned char *)text + in;
		size_t seq = edge_utf8_sequence_length(p, len - in);

		/* U+0080 to U+009F (C2 80 to C2 9F) are control characters too. */
		if (seq == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
			/* In JSON the code point is the second byte; in text the bytes show as sent. */
			if (!json)
				used += put_escape(out + used, false, p[0], true);
			used += put_escape(out + used, json, p[1], true);
			in += 2;
		} else if (seq > 1) {
			memcpy(out + used, p, seq);
			used += seq;
			in += seq;
		} else if (seq == 0) {
			used += put_escape(out + used, json, p[0], false);
			in++;
		} else if (p[0] < 0x20 || p[0] == 0x7f) {
			used += put_escape(out + used, json, p[0], true);
			in++;
		} else if (p[0] == '\\' || (json && p[0] == '"')) {
			if (json) {
				out[used++] = '\\';
				out[used++] = (char)p[0];
			} else {
				used += put_escape(out + used, false, p[0], true);
			}
			in++;
		} else {
			out[used++] = (char)p[0];
			in++;
		}
	}
	if (in < len && used + 4 <= out_size) {
		memcpy(out + used, "...", 3);
		used += 3;
	}
	out[used] = '\0';
}

void
edge_log_escape(const char *text, size_t len, char *out, size_t out_size)
{
	escape_for(false, text, len, out, out_size);
}

static void
format_time(char *out, size_t out_size)
{
	struct timespec now;
	struct tm utc;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &utc);
	snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
	    utc.tm_min, utc.tm_sec, now.tv_nsec / 1000000);
}

void
edge_log_v(edge_log_level level, const char *subsystem, const char *fmt,
    va_list args)
{
	char message[LOG_LINE_MAX], escaped[LOG_LINE_MAX];
	char line[LOG_LINE_MAX + 512];
	char when[64];
	int message_len, line_len;

	if (level < log_min_level)
		return;

	/* The message may carry client bytes: escape all of it at once. */
	message_len = vsnprintf(message, sizeof(message), fmt, args);
	if (message_len < 0)
		return;
	if ((size_t)message_len >= sizeof(message))
		message_len = sizeof(message) - 1;
	escape_for(log_format == EDGE_LOG_JSON, message, (size_t)message_len,
	    escaped, sizeof(escaped));
	format_time(when, sizeof(when));

	if (log_format == EDGE_LOG_JSON)
		line_len = snprintf(line, sizeof(line),
		    "{\"time\":\"%s\",\"level\":\"%s\",\"program\":\"%s\","
		    "\"pid\":%ld,\"subsystem\":\"%s\",\"request_id\":\"%s\","
		    "\"message\":\"%s\"}\n", when, level_names[level],
		    log_program, (long)getpid(), subsystem, log_request_id,
		    escaped);
	else
		line_len = snprintf(line, sizeof(line),
		    "%s %s %s[%ld] %s request_id=%s: %s\n", when,
		    level_names[level], log_program, (long)getpid(), subsystem,
		    log_request_id[0] != '\0' ? log_request_id : "-", escaped);
	if (line_len < 0)
		return;
	/* A cut line still ends with a newline. */
	if ((size_t)line_len >= sizeof(line)) {
		line_len = sizeof(line) - 1;
		line[line_len - 1] = '\n';
	}

	/* One write per line, so lines of concurrent processes do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)line_len) < 0)
		return;
}

void
edge_log(edge_log_level level, const char *subsystem, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	edge_log_v(level, subsystem, fmt, args);
	va_end(args);
}

int
edge_log_throttled(int *last_written, int interval_s, edge_log_level level,
    const char *subsystem, const char *fmt, ...)
{
	struct timespec now;
	va_list args;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (*last_written != 0 && now.tv_sec - *last_written < interval_s)
		return 0;
	/* 0 means "never written", so a clock reading of 0 is stored as 1. */
	*last_written = now.tv_sec > 0 ? (int)now.tv_sec : 1;

	va_start(args, fmt);
	edge_log_v(level, subsystem, fmt, args);
	va_end(args);
	return 1;
}

void
edge_log_token_prefix(const char *token, char *out)
{
	size_t len = token == NULL ? 0 : strlen(token);

	if (len < 7) {
		snprintf(out, EDGE_TOKEN_PREFIX_SIZE, "<short>");
		return;
	}
	snprintf(out, EDGE_TOKEN_PREFIX_SIZE, "%.6s...", token);
}

void
edge_log_redact_url(const char *url, char *out, size_t out_size)
{
	const char *scheme_end, *at, *authority_end, *password;
	size_t used;

	if (out_size == 0)
		return;
	scheme_end = strstr(url, "://");
	if (scheme_end == NULL) {
		snprintf(out, out_size, "%s", url);
		return;
	}

	/* libpq ends the user information at the last '@' before the first '/'
	 * ('?' and '#' may sit inside a password), so redact up to there. */
	authority_end = scheme_end + 3 + strcspn(scheme_end + 3, "/");
	at = NULL;
	for (const char *p = scheme_end + 3; p < authority_end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL)
		snprintf(out, out_size, "%.*s***%s", (int)(scheme_end + 3 - url), url,
		    at);
	else
		snprintf(out, out_size, "%s", url);

	/* A password can also travel as a query parameter. */
	password = strstr(out, "password=");
	if (password != NULL) {
		char rest[512];

		used = (size_t)(password - out) + strlen("password=");
		snprintf(rest, sizeof(rest), "%s", out + used + strcspn(out + used, "&"));
		snprintf(out + used, out_size - used, "***%s", rest);
	}
}
