/* Error codes shared by every module of the common library.
 * Codes travel up unchanged; the module where an error arises logs it once. */
#ifndef EDGE_ERROR_H
#define EDGE_ERROR_H

typedef enum edge_err {
	EDGE_OK = 0,		/* success */
	EDGE_ERR_NOMEM,		/* an allocation failed */
	EDGE_ERR_INVALID,	/* input was rejected as malformed */
	EDGE_ERR_CONFIG,	/* a setting the suite cannot serve */
	EDGE_ERR_STORE,		/* the database or limiter store failed or is unreachable */
	EDGE_ERR_TIMEOUT,	/* the store did not answer within its deadline */
	EDGE_ERR_IO,		/* reading from or writing to the client failed */
	EDGE_ERR_TOO_LARGE,	/* input is larger than its configured limit */
	EDGE_ERR_SHORT,		/* the body ended before its declared length */
	EDGE_ERR_NOT_FOUND	/* the requested row does not exist */
} edge_err;

/* Returns a short constant description of err for log lines. */
const char *edge_err_str(edge_err err);

#endif
