/* Captures what the code under test writes to standard error (its log lines)
 * through a pipe, so tests can check the text and keep it out of the report.
 * The pipe holds 64 KiB on Linux: a capture must not log more than that, or
 * the writer blocks forever. */
#ifndef EDGE_TEST_CAPTURE_H
#define EDGE_TEST_CAPTURE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct stderr_capture {
	int saved_fd;
	int read_fd;
	char text[65536];	/* NUL-terminated output after capture_end */
	size_t len;
} stderr_capture;

/* Redirects standard error into a pipe. Exits the test program when the
 * pipe cannot be set up, since every later check would be meaningless. */
static void __attribute__((unused))
capture_begin(stderr_capture *capture)
{
	int fds[2];

	fflush(stderr);
	capture->saved_fd = dup(STDERR_FILENO);
	if (capture->saved_fd < 0 || pipe(fds) != 0 ||
	    dup2(fds[1], STDERR_FILENO) < 0) {
		perror("capture_begin");
		exit(2);
	}
	close(fds[1]);
	capture->read_fd = fds[0];
	capture->len = 0;
	capture->text[0] = '\0';
}

/* Restores standard error and collects what was written meanwhile. */
static void __attribute__((unused))
capture_end(stderr_capture *capture)
{
	ssize_t got;

	fflush(stderr);
	dup2(capture->saved_fd, STDERR_FILENO);
	close(capture->saved_fd);

	/* Every write end is closed now, so read() returns 0 at the end. */
	while (capture->len + 1 < sizeof(capture->text) &&
	    (got = read(capture->read_fd, capture->text + capture->len,
	    sizeof(capture->text) - 1 - capture->len)) > 0)
		capture->len += (size_t)got;
	capture->text[capture->len] = '\0';
	close(capture->read_fd);
}

/* Counts the '\n' bytes of the captured text. */
static size_t __attribute__((unused))
capture_line_count(const stderr_capture *capture)
{
	size_t lines = 0;

	for (size_t i = 0; i < capture->len; i++)
		lines += capture->text[i] == '\n';
	return lines;
}

#endif
