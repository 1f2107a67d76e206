/* TLS client context for gateway connections; see gateway_tls.h. It is made
 * here rather than by libwebsockets, because Debian's libwebsockets 4.1.6
 * loads its default trust store from a path relative to the working
 * directory ("../share"), and it checks a bracketed IPv6 host as a name. */
#include "gateway_tls.h"
#include "log.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Logs the OpenSSL error queue's first entry with what failed. */
static void
log_tls_problem(const char *what)
{
	char detail[160];
	unsigned long code = ERR_get_error();

	ERR_error_string_n(code, detail, sizeof(detail));
	ERR_clear_error();
	edge_log(EDGE_LOG_ERROR, "gateway", "%s: %s", what,
	    code != 0 ? detail : "unknown error");
}

static bool
expect_peer(SSL_CTX *context, const char *host, bool ip_literal)
{
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(context);

	/* A wildcard must cover a whole label, as browsers require. */
	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (ip_literal)
		return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1;
	return X509_VERIFY_PARAM_set1_host(param, host, strlen(host)) == 1;
}

/* The trust store of the last exchange, kept per process, because reading
 * the system bundle took about 20 ms here (Debian 12, OpenSSL 3.0,
 * ca-certificates), more than the rest of a loopback exchange. It is rebuilt
 * when GATEWAY_CA_FILE names another file or the file changes. */
static struct {
	X509_STORE *store;
	char *ca_file;		/* NULL when the store holds the system store only */
	struct stat ca_stat;
} cache;

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Returns a new store with the system's certificates and ca_file's, or NULL
 * after logging. */
static X509_STORE *
load_store(const char *ca_file)
{
	X509_STORE *store = X509_STORE_new();

	if (store == NULL) {
		log_tls_problem("creating a certificate store failed");
		return NULL;
	}

	/* A system without a store still works with GATEWAY_CA_FILE. */
	if (X509_STORE_set_default_paths(store) != 1)
		ERR_clear_error();
	if (ca_file != NULL && X509_STORE_load_file(store, ca_file) != 1) {
		char shown[256], what[320];

		edge_log_escape(ca_file, strlen(ca_file), shown, sizeof(shown));
		snprintf(what, sizeof(what), "GATEWAY_CA_FILE %s: loading "
		    "certificates failed", shown);
		log_tls_problem(what);
		X509_STORE_free(store);
		return NULL;
	}
	return store;
}

/* Returns the cached store for ca_file, loading it when needed. */
static X509_STORE *
trust_store(const char *ca_file)
{
	struct stat now = { 0 };
	X509_STORE *store;
	char *copy = NULL;

	if (ca_file != NULL && stat(ca_file, &now) != 0) {
		char shown[256];

		edge_log_escape(ca_file, strlen(ca_file), shown, sizeof(shown));
		edge_log(EDGE_LOG_ERROR, "gateway", "GATEWAY_CA_FILE %s: %s", shown,
		    strerror(errno));
		return NULL;
	}
	if (cache.store != NULL &&
	    (ca_file == NULL ? cache.ca_file == NULL : cache.ca_file != NULL &&
	    strcmp(ca_file, cache.ca_file) == 0 && same_file(&now, &cache.ca_stat)))
		return cache.store;

	store = load_store(ca_file);
	if (store == NULL || (ca_file != NULL && (copy = strdup(ca_file)) == NULL)) {
		X509_STORE_free(store);
		return NULL;
	}
	X509_STORE_free(cache.store);
	free(cache.ca_file);
	cache.store = store;
	cache.ca_file = copy;
	cache.ca_stat = now;
	return store;
}

SSL_CTX *
edge_gateway_tls_context(const char *ca_file, const char *host,
    bool ip_literal, bool insecure)
{
	SSL_CTX *context = SSL_CTX_new(TLS_client_method());
	X509_STORE *store;

	if (context == NULL) {
		log_tls_problem("creating a TLS context failed");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) != 1) {
		log_tls_problem("requiring TLS 1.2 failed");
		goto fail;
	}
	SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);

	store = trust_store(ca_file);
	if (store == NULL)
		goto fail;
	SSL_CTX_set1_cert_store(context, store);
	if (!insecure && !expect_peer(context, host, ip_literal)) {
		log_tls_problem("setting the expected gateway host failed");
		goto fail;
	}
	return context;

fail:
	SSL_CTX_free(context);
	return NULL;
}
