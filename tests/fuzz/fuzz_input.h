/* Helpers shared by the fuzz targets: an assertion that stays on in every
 * build, and heap copies of input bytes with just one NUL after them, so
 * AddressSanitizer reports any read past that NUL. */
#ifndef EDGE_FUZZ_INPUT_H
#define EDGE_FUZZ_INPUT_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the failed condition with its place and aborts, which libFuzzer
 * reports as a crash and saves the input for. */
#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* Copies len bytes into a new heap buffer of len + 1 bytes and adds a NUL
 * after them. The caller frees the copy. A NUL byte inside the input stays,
 * so as a C string the copy ends there, as a CGI variable would. */
static inline char *
fuzz_copy_text(const void *bytes, size_t len)
{
	char *text = malloc(len + 1);

	FUZZ_ASSERT(text != NULL);
	if (len > 0)
		memcpy(text, bytes, len);
	text[len] = '\0';
	return text;
}

#endif
