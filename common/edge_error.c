/* Descriptions of the shared error codes. */
#include "edge_error.h"

const char *
edge_err_str(edge_err err)
{
	switch (err) {
	case EDGE_OK: return "ok";
	case EDGE_ERR_NOMEM: return "out of memory";
	case EDGE_ERR_INVALID: return "invalid input";
	case EDGE_ERR_CONFIG: return "invalid configuration";
	case EDGE_ERR_STORE: return "store failed";
	case EDGE_ERR_TIMEOUT: return "timed out";
	case EDGE_ERR_IO: return "client I/O failed";
	case EDGE_ERR_TOO_LARGE: return "too large";
	case EDGE_ERR_SHORT: return "body shorter than declared";
	case EDGE_ERR_NOT_FOUND: return "not found";
	}
	return "unknown error";
}
