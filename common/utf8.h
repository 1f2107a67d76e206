/* UTF-8 validation and repair for bytes received from clients. */
#ifndef EDGE_UTF8_H
#define EDGE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Returns the length (1 to 4) of the well-formed UTF-8 sequence at the start
 * of s (len bytes available), or 0 when it is not well formed (overlong
 * forms, surrogates and code points above U+10FFFF are not well formed). */
size_t edge_utf8_sequence_length(const unsigned char *s, size_t len);

/* Returns true when all len bytes are well-formed UTF-8. */
bool edge_utf8_valid(const char *s, size_t len);

/* Decodes the well-formed sequence at s into *code_point and returns its
 * length, or returns 0 (and sets U+FFFD) for an ill-formed one, in which case
 * *skip is the maximal ill-formed subpart to replace with one U+FFFD, as
 * Unicode's "substitution of maximal subparts" practice and Python's
 * errors="replace" do. skip may be NULL. */
size_t edge_utf8_decode(const unsigned char *s, size_t len,
	unsigned *code_point, size_t *skip);

/* Returns a newly allocated NUL-terminated copy of s with every maximal
 * ill-formed subpart replaced by U+FFFD; *out_len receives its length.
 * Returns NULL when memory runs out. */
char *edge_utf8_repair(const char *s, size_t len, size_t *out_len);

/* Writes the UTF-8 encoding of code_point into out (4 bytes available) and
 * returns its length. */
size_t edge_utf8_encode(unsigned code_point, char *out);

#endif
