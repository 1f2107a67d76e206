/* Logging to standard error (the web server's error log): one line per event
 * with time, level, subsystem and request id. The formatted message is escaped
 * as a whole, so bytes that came from a client cannot forge a line break. */
#ifndef EDGE_LOG_H
#define EDGE_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum edge_log_level {
	EDGE_LOG_DEBUG = 0,
	EDGE_LOG_INFO,
	EDGE_LOG_WARNING,
	EDGE_LOG_ERROR
} edge_log_level;

typedef enum edge_log_format {
	EDGE_LOG_TEXT = 0,
	EDGE_LOG_JSON
} edge_log_format;

/* Sets the least severe level written and the line format. */
void edge_log_configure(edge_log_level min_level, edge_log_format format);

/* Sets the program name shown on every line (the endpoint's binary name). */
void edge_log_set_program(const char *program);

/* Sets the request id shown on every following line; NULL clears it. */
void edge_log_set_request_id(const char *request_id);

/* Writes one line. Never pass a secret, a full token, a signature or a URL
 * holding credentials: use edge_log_token_prefix and edge_log_redact_url. */
void edge_log(edge_log_level level, const char *subsystem, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void edge_log_v(edge_log_level level, const char *subsystem, const char *fmt,
	va_list args) __attribute__((format(printf, 3, 0)));

/* Writes a warning at most once per interval_s seconds for each distinct
 * throttle slot, so a failing store cannot flood the error log. Returns 1
 * when the line was written, 0 when it was suppressed. */
int edge_log_throttled(int *last_written, int interval_s, edge_log_level level,
	const char *subsystem, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Writes into out (at least EDGE_TOKEN_PREFIX_SIZE bytes) the loggable part
 * of a token: its first 6 characters followed by "...", or a fixed mask when
 * the token is shorter than 7 characters and would be revealed whole. */
#define EDGE_TOKEN_PREFIX_SIZE 16
void edge_log_token_prefix(const char *token, char *out);

/* Copies url into out (size out_size) with any user:password@ part replaced
 * by "***@", so a connection string can be named in a log line. */
void edge_log_redact_url(const char *url, char *out, size_t out_size);

/* Escapes len bytes of untrusted text into out (size out_size, always
 * NUL-terminated): control characters, backslash, bytes that are not valid
 * UTF-8 and, in the JSON format, double quotes become \xNN escapes; longer
 * input is cut with "...". */
void edge_log_escape(const char *text, size_t len, char *out, size_t out_size);

#endif
