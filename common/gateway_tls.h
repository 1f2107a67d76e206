/* The OpenSSL client context for wss:// gateways: which certificates are
 * trusted and which name or address the gateway's certificate must carry. */
#ifndef EDGE_GATEWAY_TLS_H
#define EDGE_GATEWAY_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>

/* Returns a new client context (TLS 1.2 or later) that trusts the system's
 * certificate store plus the certificates in ca_file (NULL for none). Unless
 * insecure, the certificate must be valid for host, which is a DNS name or an
 * IP address that must appear as an IP entry of the certificate. With
 * insecure no host is set; the caller must also accept chain errors in its
 * verify callback. Returns NULL after logging (an unreadable ca_file is
 * named by path). The caller frees the context with SSL_CTX_free. The
 * trust store is cached per process and reloaded when ca_file changes. */
SSL_CTX *edge_gateway_tls_context(const char *ca_file, const char *host,
	bool ip_literal, bool insecure);

#endif
