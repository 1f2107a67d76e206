/* A strict JSON (RFC 8259) syntax check that also applies PostgreSQL's extra
 * rules for the json type, so text it accepts can be stored unchanged. */
#ifndef EDGE_JSON_CHECK_H
#define EDGE_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Returns true when text (len bytes, already known to be valid UTF-8) is one
 * JSON value with optional surrounding whitespace, nested at most max_depth
 * arrays and objects deep (at most 64), with no raw control characters in
 * strings and every \u escape of a UTF-16 surrogate correctly paired, which
 * PostgreSQL's json input requires. */
bool edge_json_check(const char *text, size_t len, unsigned max_depth);

#endif
