/* JWKS parsing into OpenSSL public keys, and the file cache; see jwks.h. */
#include "jwks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "jwt.h"
#include "log.h"

/* RSA keys below 2048 bits are too weak, so NIST SP 800-131A disallows them
 * for signature generation. Above 8192 bits each verification gets slow
 * enough to matter. */
#define RSA_BITS_MIN 2048
#define RSA_BITS_MAX 8192

#define P256_COORDINATE_SIZE 32
#define ED25519_KEY_SIZE 32

/* Members that only a private (or symmetric) key has. */
static const char *const private_members[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth", "k",
};

/* Returns the one JWS algorithm a key of type verifies. */
static const char *
alg_of_type(edge_jwk_type type)
{
	switch (type) {
	case EDGE_JWK_RSA: return "RS256";
	case EDGE_JWK_EC_P256: return "ES256";
	case EDGE_JWK_ED25519: return "EdDSA";
	}
	return "";
}

/* Logs why key number index (counting from 0) is skipped, naming its kid. */
static void
skip_key(size_t index, const char *kid, const char *why)
{
	char shown[96];

	if (kid != NULL)
		edge_log_escape(kid, strlen(kid), shown, sizeof(shown));
	edge_log(EDGE_LOG_WARNING, "jwks", "key %zu (kid %s) skipped: %s",
	    index, kid != NULL ? shown : "none", why);
}

/* Returns the string member name of key, NULL when absent or not a string. */
static const char *
member_string(json_object *key, const char *name)
{
	json_object *member;

	if (!json_object_object_get_ex(key, name, &member) ||
	    !json_object_is_type(member, json_type_string))
		return NULL;
	return json_object_get_string(member);
}

/* Decodes the base64url member name of key into out (exactly size bytes
 * when exact, else at most size). Returns the decoded length, 0 on failure. */
static size_t
member_bytes(json_object *key, const char *name, unsigned char *out,
    size_t size, bool exact)
{
	const char *text = member_string(key, name);
	size_t len;

	if (text == NULL || !edge_jwt_base64url_decode(text, strlen(text), out,
	    size, &len) || len == 0 || (exact && len != size))
		return 0;
	return len;
}

/* Builds a public key of type name ("RSA", "EC") from OSSL_PARAMs. */
static EVP_PKEY *
pkey_from_params(const char *name, OSSL_PARAM_BLD *builder)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(builder);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* Checks a public key as OpenSSL can (RSA modulus and exponent shape, EC
 * point on the curve) and frees it when it fails. */
static EVP_PKEY *
checked_public_key(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if (pkey == NULL)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

static EVP_PKEY *
rsa_key(json_object *key, const char **why)
{
	unsigned char n_bytes[RSA_BITS_MAX / 8 + 1], e_bytes[8];
	size_t n_len = member_bytes(key, "n", n_bytes, sizeof(n_bytes), false);
	size_t e_len = member_bytes(key, "e", e_bytes, sizeof(e_bytes), false);
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *builder = NULL;
	EVP_PKEY *pkey = NULL;
	int bits;

	*why = "n or e missing or not base64url";
	if (n_len == 0 || e_len == 0)
		return NULL;
	n = BN_bin2bn(n_bytes, (int)n_len, NULL);
	e = BN_bin2bn(e_bytes, (int)e_len, NULL);
	*why = "out of memory";
	if (n == NULL || e == NULL)
		goto done;

	bits = BN_num_bits(n);
	*why = "RSA modulus outside 2048 to 8192 bits";
	if (bits < RSA_BITS_MIN || bits > RSA_BITS_MAX)
		goto done;

	*why = "OpenSSL rejected the RSA key";
	builder = OSSL_PARAM_BLD_new();
	if (builder == NULL ||
	    !OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, e))
		goto done;
	pkey = checked_public_key(pkey_from_params("RSA", builder));

done:
	OSSL_PARAM_BLD_free(builder);
	BN_free(n);
	BN_free(e);
	return pkey;
}

static EVP_PKEY *
ec_key(json_object *key, const char **why)
{
	unsigned char point[1 + 2 * P256_COORDINATE_SIZE];
	const char *crv = member_string(key, "crv");
	OSSL_PARAM_BLD *builder;
	EVP_PKEY *pkey = NULL;

	*why = "EC curve other than P-256";
	if (crv == NULL || strcmp(crv, "P-256") != 0)
		return NULL;

	/* RFC 7518: x and y are exactly as long as the curve's coordinates. */
	*why = "x or y missing or not 32 bytes of base64url";
	point[0] = 0x04;	/* uncompressed point: 04 || x || y */
	if (member_bytes(key, "x", point + 1, P256_COORDINATE_SIZE, true) == 0 ||
	    member_bytes(key, "y", point + 1 + P256_COORDINATE_SIZE,
	    P256_COORDINATE_SIZE, true) == 0)
		return NULL;

	*why = "the point is not on P-256";
	builder = OSSL_PARAM_BLD_new();
	if (builder != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) &&
	    OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY,
	    point, sizeof(point)))
		pkey = checked_public_key(pkey_from_params("EC", builder));
	OSSL_PARAM_BLD_free(builder);
	return pkey;
}

static EVP_PKEY *
okp_key(json_object *key, const char **why)
{
	unsigned char raw[ED25519_KEY_SIZE];
	const char *crv = member_string(key, "crv");

	*why = "OKP curve other than Ed25519";
	if (crv == NULL || strcmp(crv, "Ed25519") != 0)
		return NULL;
	*why = "x missing or not 32 bytes of base64url";
	if (member_bytes(key, "x", raw, sizeof(raw), true) == 0)
		return NULL;
	*why = "OpenSSL rejected the Ed25519 key";
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, sizeof(raw));
}

/* Returns the reason key may not verify signatures ("use", "key_ops",
 * private members, malformed kid or alg), or NULL when it may. */
static const char *
unusable_reason(json_object *key)
{
	json_object *member;

	if (!json_object_is_type(key, json_type_object))
		return "not a JSON object";
	for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
		if (json_object_object_get_ex(key, private_members[i], NULL))
			return "it contains private key members; publish only public keys";
	if (json_object_object_get_ex(key, "use", &member) &&
	    (!json_object_is_type(member, json_type_string) ||
	    strcmp(json_object_get_string(member), "sig") != 0))
		return "use is not sig";
	if (json_object_object_get_ex(key, "key_ops", &member)) {
		bool verify = false;

		if (!json_object_is_type(member, json_type_array))
			return "key_ops is not an array";
		for (size_t i = 0; i < json_object_array_length(member); i++) {
			json_object *op = json_object_array_get_idx(member, i);

			verify |= json_object_is_type(op, json_type_string) &&
			    strcmp(json_object_get_string(op), "verify") == 0;
		}
		if (!verify)
			return "key_ops lacks verify";
	}
	if ((json_object_object_get_ex(key, "kid", &member) &&
	    !json_object_is_type(member, json_type_string)) ||
	    (json_object_object_get_ex(key, "alg", &member) &&
	    !json_object_is_type(member, json_type_string)))
		return "kid or alg is not a string";
	if (member_string(key, "kty") == NULL)
		return "kty missing";
	return NULL;
}

/* Builds entry from key number index, or logs why it is skipped and returns
 * EDGE_ERR_INVALID. */
static edge_err
load_key(json_object *key, size_t index, edge_jwk *entry)
{
	const char *kid = NULL, *alg, *kty, *why;

	if (json_object_is_type(key, json_type_object))
		kid = member_string(key, "kid");
	why = unusable_reason(key);
	if (why != NULL) {
		skip_key(index, kid, why);
		return EDGE_ERR_INVALID;
	}

	kty = member_string(key, "kty");
	alg = member_string(key, "alg");
	if (strcmp(kty, "RSA") == 0) {
		entry->type = EDGE_JWK_RSA;
		entry->pkey = rsa_key(key, &why);
	} else if (strcmp(kty, "EC") == 0) {
		entry->type = EDGE_JWK_EC_P256;
		entry->pkey = ec_key(key, &why);
	} else if (strcmp(kty, "OKP") == 0) {
		entry->type = EDGE_JWK_ED25519;
		entry->pkey = okp_key(key, &why);
	} else {
		why = "kty is not RSA, EC or OKP";
	}
	ERR_clear_error();
	if (entry->pkey == NULL) {
		skip_key(index, kid, why);
		return EDGE_ERR_INVALID;
	}

	if (alg != NULL && strcmp(alg, alg_of_type(entry->type)) != 0) {
		skip_key(index, kid, "its alg is not RS256, ES256 or EdDSA for its kty");
		EVP_PKEY_free(entry->pkey);
		entry->pkey = NULL;
		return EDGE_ERR_INVALID;
	}

	entry->kid = kid != NULL ? strdup(kid) : NULL;
	entry->alg = alg != NULL ? strdup(alg) : NULL;
	if ((kid != NULL && entry->kid == NULL) || (alg != NULL && entry->alg == NULL)) {
		EVP_PKEY_free(entry->pkey);
		free(entry->kid);
		free(entry->alg);
		return EDGE_ERR_NOMEM;
	}
	return EDGE_OK;
}

edge_err
edge_jwks_parse(const char *text, size_t len, edge_jwks **jwks)
{
	json_object *root, *keys;
	edge_jwks *set;
	size_t count;
	edge_err err = EDGE_OK;

	*jwks = NULL;
	root = edge_jwt_json_object_parse(text, len);
	if (root == NULL || !json_object_object_get_ex(root, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		json_object_put(root);
		return EDGE_ERR_INVALID;
	}
	count = json_object_array_length(keys);
	if (count > EDGE_JWKS_KEYS_MAX) {
		edge_log(EDGE_LOG_WARNING, "jwks",
		    "the set has %zu keys; only the first %d are used", count,
		    EDGE_JWKS_KEYS_MAX);
		count = EDGE_JWKS_KEYS_MAX;
	}

	set = calloc(1, sizeof(*set));
	if (set == NULL || (count > 0 &&
	    (set->keys = calloc(count, sizeof(*set->keys))) == NULL)) {
		free(set);
		json_object_put(root);
		return EDGE_ERR_NOMEM;
	}
	for (size_t i = 0; i < count && err != EDGE_ERR_NOMEM; i++) {
		err = load_key(json_object_array_get_idx(keys, i), i,
		    &set->keys[set->count]);
		if (err == EDGE_OK)
			set->count++;
	}
	json_object_put(root);
	if (err == EDGE_ERR_NOMEM) {
		edge_jwks_free(set);
		return EDGE_ERR_NOMEM;
	}
	*jwks = set;
	return EDGE_OK;
}

void
edge_jwks_free(edge_jwks *jwks)
{
	if (jwks == NULL)
		return;
	for (size_t i = 0; i < jwks->count; i++) {
		free(jwks->keys[i].kid);
		free(jwks->keys[i].alg);
		EVP_PKEY_free(jwks->keys[i].pkey);
	}
	free(jwks->keys);
	free(jwks);
}

bool
edge_jwk_fits_alg(const edge_jwk *key, const char *alg)
{
	if (strcmp(alg_of_type(key->type), alg) != 0)
		return false;
	return key->alg == NULL || strcmp(key->alg, alg) == 0;
}

/* Identity of one version of the file. Any change means it was rewritten. */
typedef struct file_identity {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
} file_identity;

struct edge_jwks_cache {
	char *path;
	edge_jwks *keys;	/* last good set, never NULL after open */
	file_identity loaded;	/* the version keys came from, or the last one tried */
	int stat_warned;	/* throttle slot for stat failures */
};

static file_identity
identity_of(const struct stat *st)
{
	file_identity id;

	memset(&id, 0, sizeof(id));
	id.dev = st->st_dev;
	id.ino = st->st_ino;
	id.size = st->st_size;
	id.mtime = st->st_mtim;
	id.ctime = st->st_ctim;
	return id;
}

static bool
identity_equal(const file_identity *a, const file_identity *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Reads and parses the file. *id receives the identity of the version read
 * (from the open descriptor, so it matches the bytes). A set without a
 * usable key is an error unless allow_empty. Logs each failure. */
static edge_err
read_key_file(const char *path, bool allow_empty, file_identity *id,
    edge_jwks **keys)
{
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	edge_err err = EDGE_ERR_CONFIG;
	int fd;

	*keys = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		edge_log(EDGE_LOG_ERROR, "jwks", "JWT_JWKS_FILE %s cannot be read: %s",
		    path, strerror(errno));
		goto done;
	}
	*id = identity_of(&st);
	if (!S_ISREG(st.st_mode) || st.st_size > EDGE_JWKS_FILE_MAX) {
		edge_log(EDGE_LOG_ERROR, "jwks",
		    "JWT_JWKS_FILE %s is not a regular file of at most %d bytes",
		    path, EDGE_JWKS_FILE_MAX);
		goto done;
	}

	/* Room for one byte past the limit, so a file that grew since fstat is detected. */
	text = malloc(EDGE_JWKS_FILE_MAX + 1);
	if (text == NULL) {
		err = EDGE_ERR_NOMEM;
		goto done;
	}
	for (;;) {
		ssize_t got = read(fd, text + len, EDGE_JWKS_FILE_MAX + 1 - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			edge_log(EDGE_LOG_ERROR, "jwks", "JWT_JWKS_FILE %s cannot be read: %s",
			    path, strerror(errno));
			goto done;
		}
		if (got == 0 || (len += (size_t)got) > EDGE_JWKS_FILE_MAX)
			break;
	}
	if (len > EDGE_JWKS_FILE_MAX) {
		edge_log(EDGE_LOG_ERROR, "jwks", "JWT_JWKS_FILE %s is larger than %d bytes",
		    path, EDGE_JWKS_FILE_MAX);
		goto done;
	}

	err = edge_jwks_parse(text, len, keys);
	if (err == EDGE_ERR_INVALID) {
		edge_log(EDGE_LOG_ERROR, "jwks",
		    "JWT_JWKS_FILE %s is not a JWKS: expected a strict JSON object "
		    "{\"keys\": [...]}", path);
		err = EDGE_ERR_CONFIG;
	} else if (err == EDGE_OK && (*keys)->count == 0 && allow_empty) {
		edge_log(EDGE_LOG_WARNING, "jwks",
		    "JWT_JWKS_FILE %s contains no usable public key; every token is "
		    "refused until keys are added", path);
	} else if (err == EDGE_OK && (*keys)->count == 0) {
		edge_log(EDGE_LOG_ERROR, "jwks",
		    "JWT_JWKS_FILE %s contains no usable RS256, ES256 or EdDSA public key",
		    path);
		edge_jwks_free(*keys);
		*keys = NULL;
		err = EDGE_ERR_CONFIG;
	}

done:
	if (fd >= 0)
		close(fd);
	free(text);
	return err;
}

edge_err
edge_jwks_cache_open(const char *path, edge_jwks_cache **cache)
{
	edge_jwks_cache *created = calloc(1, sizeof(*created));
	edge_err err;

	*cache = NULL;
	if (created == NULL || (created->path = strdup(path)) == NULL) {
		free(created);
		return EDGE_ERR_NOMEM;
	}
	err = read_key_file(path, false, &created->loaded, &created->keys);
	if (err != EDGE_OK) {
		edge_jwks_cache_free(created);
		return err;
	}
	*cache = created;
	return EDGE_OK;
}

const edge_jwks *
edge_jwks_cache_current(edge_jwks_cache *cache)
{
	file_identity now, read_id;
	edge_jwks *fresh;
	struct stat st;

	/* Removing the file revokes every key. An atomic replacement (a rename
	 * over the old file) never leaves it missing. The loaded identity is
	 * forgotten, so the file is read again once it is back. */
	if (stat(cache->path, &st) != 0) {
		static const edge_jwks no_keys;

		edge_log_throttled(&cache->stat_warned, 60, EDGE_LOG_WARNING, "jwks",
		    "JWT_JWKS_FILE %s cannot be checked (%s); every token is refused",
		    cache->path, strerror(errno));
		memset(&cache->loaded, 0, sizeof(cache->loaded));
		return &no_keys;
	}
	now = identity_of(&st);
	if (identity_equal(&now, &cache->loaded))
		return cache->keys;

	/* Remember the version even when it fails, so it is parsed (and logged) once. */
	read_id = now;
	if (read_key_file(cache->path, true, &read_id, &fresh) != EDGE_OK) {
		cache->loaded = now;
		edge_log(EDGE_LOG_WARNING, "jwks",
		    "JWT_JWKS_FILE %s changed but cannot be used; the last keys read "
		    "stay in use", cache->path);
		return cache->keys;
	}
	edge_jwks_free(cache->keys);
	cache->keys = fresh;
	cache->loaded = read_id;
	edge_log(EDGE_LOG_INFO, "jwks", "JWT_JWKS_FILE %s read again: %zu keys",
	    cache->path, fresh->count);
	return cache->keys;
}

void
edge_jwks_cache_free(edge_jwks_cache *cache)
{
	if (cache == NULL)
		return;
	edge_jwks_free(cache->keys);
	free(cache->path);
	free(cache);
}
