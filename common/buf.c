/* Growable buffer; see buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
reserve(edge_buf *buf, size_t extra)
{
	size_t wanted, capacity;
	char *grown;

	if (buf->err != EDGE_OK)
		return -1;
	/* Refuse sizes whose arithmetic would wrap. */
	if (extra > SIZE_MAX / 2 - buf->len - 1) {
		buf->err = EDGE_ERR_TOO_LARGE;
		return -1;
	}
	wanted = buf->len + extra + 1;
	if (wanted <= buf->capacity)
		return 0;
	capacity = buf->capacity < 256 ? 256 : buf->capacity;
	while (capacity < wanted)
		capacity *= 2;
	grown = realloc(buf->data, capacity);
	if (grown == NULL) {
		buf->err = EDGE_ERR_NOMEM;
		return -1;
	}
	buf->data = grown;
	buf->capacity = capacity;
	return 0;
}

void
edge_buf_append(edge_buf *buf, const void *data, size_t len)
{
	if (reserve(buf, len) != 0)
		return;
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void
edge_buf_append_str(edge_buf *buf, const char *text)
{
	edge_buf_append(buf, text, strlen(text));
}

void
edge_buf_appendf(edge_buf *buf, const char *fmt, ...)
{
	va_list args;
	int needed;

	va_start(args, fmt);
	needed = vsnprintf(NULL, 0, fmt, args);
	va_end(args);
	if (needed < 0 || reserve(buf, (size_t)needed) != 0)
		return;
	va_start(args, fmt);
	vsnprintf(buf->data + buf->len, (size_t)needed + 1, fmt, args);
	va_end(args);
	buf->len += (size_t)needed;
}

void
edge_buf_free(edge_buf *buf)
{
	free(buf->data);
	*buf = (edge_buf){ 0 };
}
