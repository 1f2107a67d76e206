/* Logging to standard error; see log.h for the line format and its rules. */
#include "log.h"
#include "utf8.h"

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

void
edge_log_escape(const char *text, size_t len, char *out, size_t out_size)
{
	static const char hex[] = "0123456789abcdef";
	size_t in = 0, used = 0;

	if (out_size == 0)
		return;

	/* Keep room for a 4-byte escape, "..." and the terminating NUL. */
	while (in < len && used + 8 < out_size) {
		unsigned char c = (unsigned char)text[in];
		size_t seq = edge_utf8_sequence_length(
		    (const unsigned char *)text + in, len - in);

		if (c >= 0x80 && seq > 0) {
			memcpy(out + used, text + in, seq);
			used += seq;
			in += seq;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '\\' ||
		    (c == '"' && log_format == EDGE_LOG_JSON)) {
			out[used++] = '\\';
			out[used++] = 'x';
			out[used++] = hex[c >> 4];
			out[used++] = hex[c & 0xf];
		} else {
			out[used++] = (char)c;
		}
		in++;
	}
	if (in < len) {
		memcpy(out + used, "...", 3);
		used += 3;
	}
	out[used] = '\0';
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
	edge_log_escape(message, (size_t)message_len, escaped, sizeof(escaped));
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
	const char *scheme_end, *at, *authority_end;

	if (out_size == 0)
		return;
	scheme_end = strstr(url, "://");
	if (scheme_end == NULL) {
		snprintf(out, out_size, "%s", url);
		return;
	}

	/* Credentials can only sit in the authority, before the first '/', '?' or '#'. */
	authority_end = scheme_end + 3 + strcspn(scheme_end + 3, "/?#");
	at = NULL;
	for (const char *p = scheme_end + 3; p < authority_end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL) {
		snprintf(out, out_size, "%s", url);
		return;
	}
	snprintf(out, out_size, "%.*s***%s", (int)(scheme_end + 3 - url), url,
	    at);
}
