/* A growable byte buffer, always NUL-terminated. */
#ifndef EDGE_BUF_H
#define EDGE_BUF_H

#include <stddef.h>

#include "edge_error.h"

typedef struct edge_buf {
	char *data;	/* NULL until the first append */
	size_t len;
	size_t capacity;
	edge_err err;	/* first failure; later appends do nothing */
} edge_buf;

void edge_buf_append(edge_buf *buf, const void *data, size_t len);
void edge_buf_append_str(edge_buf *buf, const char *text);
void edge_buf_appendf(edge_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void edge_buf_free(edge_buf *buf);

#endif
