/* Tests for the growable buffer: appends, formatting, growth, NUL
 * termination and the sticky error on oversized appends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"

static void
test_appends(void)
{
	edge_buf buf = { 0 };

	edge_buf_append(&buf, "", 0);
	CHECK(buf.data != NULL, "buf empty append allocates");
	CHECK_INT_EQ(buf.len, 0, "buf empty append length");
	CHECK_STR_EQ(buf.data, "", "buf empty append terminates");
	edge_buf_append(&buf, "ab\0cd", 5);
	CHECK_MEM_EQ(buf.data, buf.len, "ab\0cd", 5, "buf append keeps NUL bytes");
	edge_buf_append_str(&buf, "ef");
	edge_buf_appendf(&buf, "-%d-%s", 42, "x");
	CHECK_MEM_EQ(buf.data, buf.len, "ab\0cdef-42-x", 12, "buf appendf formats");
	CHECK(buf.data[buf.len] == '\0', "buf stays NUL-terminated");
	CHECK_INT_EQ(buf.err, EDGE_OK, "buf no error");
	edge_buf_free(&buf);
	CHECK(buf.data == NULL, "buf free releases data");
	CHECK_INT_EQ(buf.len, 0, "buf free resets length");
	CHECK_INT_EQ(buf.capacity, 0, "buf free resets capacity");
}

static void
test_growth(void)
{
	edge_buf buf = { 0 };
	char chunk[1000];
	size_t mismatches = 0;

	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 1000; i++)
		edge_buf_append(&buf, chunk, sizeof(chunk));
	CHECK_INT_EQ(buf.len, 1000000, "buf grows to a megabyte");
	for (size_t i = 0; i < buf.len; i++)
		mismatches += buf.data[i] != 'z';
	CHECK_INT_EQ(mismatches, 0, "buf growth keeps content");
	CHECK(buf.capacity > buf.len, "buf capacity covers NUL");
	edge_buf_free(&buf);

	edge_buf_appendf(&buf, "%0600d", 7);
	CHECK_INT_EQ(buf.len, 600, "buf appendf past first block");
	CHECK_MEM_EQ(buf.data + 595, 6, "00007", 6, "buf appendf long value");
	edge_buf_free(&buf);
}

static void
test_errors(void)
{
	edge_buf buf = { 0 };

	edge_buf_append_str(&buf, "kept");
	/* The length alone must be refused: no byte of the source is read. */
	edge_buf_append(&buf, "x", SIZE_MAX / 2);
	CHECK_INT_EQ(buf.err, EDGE_ERR_TOO_LARGE, "buf oversized append refused");
	edge_buf_append_str(&buf, "more");
	edge_buf_appendf(&buf, "%s", "more");
	CHECK_STR_EQ(buf.data, "kept", "buf error is sticky");
	edge_buf_free(&buf);
	CHECK_INT_EQ(buf.err, EDGE_OK, "buf free clears error");
}

int
main(void)
{
	test_appends();
	test_growth();
	test_errors();
	return check_summary();
}
