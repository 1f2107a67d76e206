/* A strict JSON (RFC 8259) syntax check that also applies PostgreSQL's extra
 * rules for the json type, so text it accepts can be stored unchanged. */
#ifndef EDGE_JSON_CHECK_H
#define EDGE_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Returns true when text (len bytes of valid UTF-8) is one JSON value with
 * optional surrounding whitespace, nested at most max_depth (up to 64)
 * arrays and objects deep. Strings must have no raw control characters, and
 * every \u escape of a UTF-16 surrogate must be paired, as PostgreSQL's json
 * input requires. */
bool edge_json_check(const char *text, size_t len, unsigned max_depth);

#endif
