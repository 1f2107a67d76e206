/* UUIDs as PostgreSQL prints them: 36 lower-case characters with hyphens. */
#ifndef EDGE_UUID_H
#define EDGE_UUID_H

#include <stdbool.h>
#include <stddef.h>

#define EDGE_UUID_SIZE 37	/* 36 characters and NUL */

/* Parses a UUID in hyphenated form (either case) or as 32 hex digits, after
 * percent-decoding, and writes its canonical form into out. Returns false
 * for anything else. */
bool edge_uuid_parse(const char *text, size_t len, char out[EDGE_UUID_SIZE]);

/* Writes a new random (version 4) UUID into out. Returns false when the
 * random generator fails. */
bool edge_uuid_generate(char out[EDGE_UUID_SIZE]);

#endif
