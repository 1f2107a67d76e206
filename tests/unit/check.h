/* Minimal TAP-style checks for the unit test programs: every check prints one
 * line, "ok - <name>" or "not ok - <name> (file:line: detail)", and
 * check_summary() turns the tally into the program's exit status. */
#ifndef EDGE_TEST_CHECK_H
#define EDGE_TEST_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static unsigned check_count;
static unsigned check_failures;

/* Prints one result line; detail_fmt is used only when the check failed. */
static bool __attribute__((format(printf, 5, 6), unused))
check_report(bool passed, const char *name, const char *file, int line,
    const char *detail_fmt, ...)
{
	char detail[1024];
	va_list args;

	check_count++;
	if (passed) {
		printf("ok - %s\n", name);
		return true;
	}
	check_failures++;
	va_start(args, detail_fmt);
	vsnprintf(detail, sizeof(detail), detail_fmt, args);
	va_end(args);

	/* The result must stay on one line whatever the detail holds. */
	for (char *p = detail; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	printf("not ok - %s (%s:%d: %s)\n", name, file, line, detail);
	fflush(stdout);
	return false;
}

/* Writes len bytes into out as a quoted C string literal (at most 96 bytes
 * shown, other bytes as \xNN), for failure details. */
static const char * __attribute__((unused))
check_show(const void *data, size_t len, char *out, size_t out_size)
{
	const unsigned char *p = data;
	size_t used = 0;

	if (data == NULL) {
		snprintf(out, out_size, "NULL");
		return out;
	}
	out[used++] = '"';
	for (size_t i = 0; i < len && i < 96 && used + 8 < out_size; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			out[used++] = '\\';
			out[used++] = (char)p[i];
		} else if (p[i] >= 0x20 && p[i] < 0x7f)
			out[used++] = (char)p[i];
		else
			used += (size_t)snprintf(out + used, out_size - used,
			    "\\x%02x", p[i]);
	}
	if (len > 96 && used + 4 < out_size) {
		memcpy(out + used, "...", 3);
		used += 3;
	}
	out[used++] = '"';
	out[used] = '\0';
	return out;
}

static bool __attribute__((unused))
check_mem_equal(const void *actual, size_t actual_len, const void *expected,
    size_t expected_len, const char *name, const char *file, int line)
{
	char shown_actual[512], shown_expected[512];
	bool equal = actual != NULL && expected != NULL &&
	    actual_len == expected_len &&
	    memcmp(actual, expected, actual_len) == 0;

	if (actual == NULL && expected == NULL)
		equal = true;
	return check_report(equal, name, file, line,
	    "got %s (%zu bytes), expected %s (%zu bytes)",
	    check_show(actual, actual_len, shown_actual, sizeof(shown_actual)),
	    actual_len,
	    check_show(expected, expected_len, shown_expected,
	    sizeof(shown_expected)), expected_len);
}

/* Passes when cond is true; the failure detail is the condition's text. */
#define CHECK(cond, name) \
	check_report((cond) ? true : false, (name), __FILE__, __LINE__, \
	    "failed: %s", #cond)

/* Like CHECK, with a printf-style failure detail. */
#define CHECKF(cond, name, ...) \
	check_report((cond) ? true : false, (name), __FILE__, __LINE__, \
	    __VA_ARGS__)

/* Compares two integers of any type up to long long. */
#define CHECK_INT_EQ(actual, expected, name) do { \
	long long check_actual_ = (long long)(actual); \
	long long check_expected_ = (long long)(expected); \
	check_report(check_actual_ == check_expected_, (name), __FILE__, \
	    __LINE__, "%s is %lld, expected %lld", #actual, check_actual_, \
	    check_expected_); \
} while (0)

/* Compares two NUL-terminated strings; either may be NULL. */
#define CHECK_STR_EQ(actual, expected, name) do { \
	const char *check_actual_ = (actual); \
	const char *check_expected_ = (expected); \
	check_mem_equal(check_actual_, \
	    check_actual_ != NULL ? strlen(check_actual_) : 0, \
	    check_expected_, \
	    check_expected_ != NULL ? strlen(check_expected_) : 0, (name), \
	    __FILE__, __LINE__); \
} while (0)

/* Compares two byte ranges. */
#define CHECK_MEM_EQ(actual, actual_len, expected, expected_len, name) \
	check_mem_equal((actual), (actual_len), (expected), (expected_len), \
	    (name), __FILE__, __LINE__)

/* Reports a check that could not run, as TAP's "# SKIP" directive. */
static void __attribute__((unused))
check_skip(const char *name, const char *reason)
{
	check_count++;
	printf("ok - %s # SKIP %s\n", name, reason);
}

/* Prints the plan and a summary line; returns 0 when every check passed,
 * 1 otherwise, for use as main's return value. */
static int __attribute__((unused))
check_summary(void)
{
	printf("1..%u\n", check_count);
	printf("# %u checks, %u failed\n", check_count, check_failures);
	fflush(stdout);
	return check_failures == 0 && check_count > 0 ? 0 : 1;
}

#endif
