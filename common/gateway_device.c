/* Ed25519 device identity with OpenSSL 3; see gateway_device.h. */
#include "gateway_device.h"
#include "agent_token.h"
#include "buf.h"
#include "hmac.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A PEM Ed25519 private key is about 120 bytes, so a much larger file is not one. */
#define KEY_FILE_MAX 16384

struct edge_gateway_device {
	EVP_PKEY *key;
	char id[EDGE_GATEWAY_DEVICE_ID_SIZE];
	char public_key[EDGE_GATEWAY_PUBLIC_KEY_SIZE];
};

/* Outcome of one attempt to read the key file. */
typedef enum read_outcome {
	READ_OK = 0,
	READ_MISSING,	/* the file does not exist: create it */
	READ_FAILED	/* logged */
} read_outcome;

/* Keeps OpenSSL from asking a terminal for the password of an encrypted key. */
static int
no_password(char *buf, int size, int rwflag, void *userdata)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)userdata;
	return -1;
}

static void
log_key_problem(const char *path, const char *problem)
{
	char shown[256];

	edge_log_escape(path, strlen(path), shown, sizeof(shown));
	edge_log(EDGE_LOG_ERROR, "gateway",
	    "GATEWAY_DEVICE_KEY_FILE %s: %s", shown, problem);
}

/* Reads fd into buf (size bytes). Returns the length, or -1 on error or when
 * the file fills buf. */
static ssize_t
read_all(int fd, char *buf, size_t size)
{
	size_t used = 0;

	for (;;) {
		ssize_t n = read(fd, buf + used, size - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return (ssize_t)used;
		used += (size_t)n;
		if (used == size)
			return -1;
	}
}

/* Parses the PEM text of an Ed25519 private key. Returns NULL after logging. */
static EVP_PKEY *
parse_key(const char *path, const char *text, size_t len)
{
	EVP_PKEY *key;
	BIO *bio;

	bio = BIO_new_mem_buf(text, (int)len);
	if (bio == NULL) {
		log_key_problem(path, "out of memory");
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	BIO_free(bio);
	if (key == NULL) {
		log_key_problem(path, "not an unencrypted PEM private key");
		return NULL;
	}
	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		log_key_problem(path, "the key is not an Ed25519 key");
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

static read_outcome
read_key_file(const char *path, EVP_PKEY **key)
{
	char text[KEY_FILE_MAX];
	struct stat st;
	ssize_t len;
	int fd;

	/* O_NOFOLLOW: a link could point the suite at a key it should not use.
	 * O_NONBLOCK: opening a FIFO must not hang the request. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return READ_MISSING;
	if (fd < 0) {
		log_key_problem(path, errno == ELOOP ? "is a symbolic link" :
		    strerror(errno));
		return READ_FAILED;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		log_key_problem(path, "not a regular file");
		return READ_FAILED;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		close(fd);
		log_key_problem(path, "group or others have access, run chmod 600 on it");
		return READ_FAILED;
	}

	len = read_all(fd, text, sizeof(text));
	close(fd);
	if (len < 0) {
		log_key_problem(path, "unreadable or larger than a key file");
		return READ_FAILED;
	}
	*key = parse_key(path, text, (size_t)len);
	OPENSSL_cleanse(text, sizeof(text));
	return *key != NULL ? READ_OK : READ_FAILED;
}

/* Writes len bytes to fd. Returns false on error. */
static bool
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* Syncs the directory holding path, so the new link survives a crash. */
static void
sync_directory(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Returns the PEM text of a new Ed25519 private key in a BIO, or NULL. */
static BIO *
generate_key_pem(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *bio;

	if (key == NULL)
		return NULL;
	bio = BIO_new(BIO_s_mem());
	if (bio != NULL &&
	    !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		bio = NULL;
	}
	EVP_PKEY_free(key);
	return bio;
}

/* Writes a new key into a temporary file next to path and links it to path.
 * When a racing process linked first, its key stays. Returns false after
 * logging. */
static bool
create_key_file(const char *path)
{
	unsigned char random[8];
	char suffix[17], *temp = NULL, *pem;
	edge_buf name = { 0 };
	BIO *bio = NULL;
	bool created = false;
	long pem_len;
	int fd = -1;

	if (RAND_bytes(random, sizeof(random)) != 1 ||
	    (bio = generate_key_pem()) == NULL) {
		log_key_problem(path, "generating an Ed25519 key failed");
		goto done;
	}
	edge_hex_encode(random, sizeof(random), suffix);
	edge_buf_appendf(&name, "%s.%s.tmp", path, suffix);
	if (name.err != EDGE_OK) {
		log_key_problem(path, "out of memory");
		goto done;
	}
	temp = name.data;

	fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    S_IRUSR | S_IWUSR);
	if (fd < 0) {
		log_key_problem(path, errno == ENOENT ?
		    "its directory does not exist" : strerror(errno));
		temp = NULL;
		goto done;
	}

	/* The umask may have taken bits away, and the mode must be exactly 0600. */
	pem_len = BIO_get_mem_data(bio, &pem);
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || pem_len <= 0 ||
	    !write_all(fd, pem, (size_t)pem_len) || fsync(fd) != 0) {
		log_key_problem(path, "writing the new key failed");
		goto done;
	}

	/* link() never replaces an existing file, unlike rename(). EEXIST
	 * means another process linked its key first, and that key is used. */
	if (link(temp, path) == 0) {
		sync_directory(path);
		edge_log(EDGE_LOG_INFO, "gateway", "created a new gateway device key");
	} else if (errno != EEXIST) {
		log_key_problem(path, strerror(errno));
		goto done;
	}
	created = true;

done:
	if (fd >= 0)
		close(fd);
	if (temp != NULL)
		unlink(temp);
	edge_buf_free(&name);
	BIO_free(bio);
	return created;
}

/* Fills the id and public key of device from its key. */
static bool
describe_key(edge_gateway_device *device)
{
	unsigned char raw[32], digest[32];
	size_t raw_len = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(device->key, raw, &raw_len) != 1 ||
	    raw_len != sizeof(raw))
		return false;
	if (EVP_Digest(raw, raw_len, digest, NULL, EVP_sha256(), NULL) != 1)
		return false;
	edge_hex_encode(digest, sizeof(digest), device->id);
	return edge_base64url_encode(raw, raw_len, device->public_key,
	    sizeof(device->public_key));
}

edge_err
edge_gateway_device_load(const char *path, edge_gateway_device **device)
{
	EVP_PKEY *key = NULL;
	read_outcome outcome;

	*device = NULL;
	if (path == NULL || path[0] == '\0') {
		edge_log(EDGE_LOG_ERROR, "gateway",
		    "GATEWAY_DEVICE_KEY_FILE is not set");
		return EDGE_ERR_CONFIG;
	}

	outcome = read_key_file(path, &key);
	if (outcome == READ_MISSING) {
		if (!create_key_file(path))
			return EDGE_ERR_CONFIG;
		outcome = read_key_file(path, &key);
		if (outcome == READ_MISSING)
			log_key_problem(path, "removed while it was being created");
	}
	if (outcome != READ_OK)
		return EDGE_ERR_CONFIG;

	*device = calloc(1, sizeof(**device));
	if (*device == NULL) {
		EVP_PKEY_free(key);
		return EDGE_ERR_NOMEM;
	}
	(*device)->key = key;
	if (!describe_key(*device)) {
		log_key_problem(path, "reading the public key failed");
		edge_gateway_device_free(*device);
		*device = NULL;
		return EDGE_ERR_CONFIG;
	}
	return EDGE_OK;
}

void
edge_gateway_device_free(edge_gateway_device *device)
{
	if (device == NULL)
		return;
	EVP_PKEY_free(device->key);
	free(device);
}

const char *
edge_gateway_device_id(const edge_gateway_device *device)
{
	return device->id;
}

const char *
edge_gateway_device_public_key(const edge_gateway_device *device)
{
	return device->public_key;
}

char *
edge_gateway_device_signed_text(const char *device_id, const char *client_id,
    const char *client_mode, const char *role, const char *scopes_joined,
    long long signed_at_ms, const char *token, const char *nonce)
{
	edge_buf text = { 0 };

	edge_buf_appendf(&text, "%s|%s|%s|%s|%s|%s|%lld|%s", nonce != NULL ?
	    "v2" : "v1", device_id, client_id, client_mode, role, scopes_joined,
	    signed_at_ms, token != NULL ? token : "");
	if (nonce != NULL)
		edge_buf_appendf(&text, "|%s", nonce);
	if (text.err != EDGE_OK) {
		edge_buf_free(&text);
		return NULL;
	}
	return text.data;
}

bool
edge_gateway_device_sign(const edge_gateway_device *device, const char *text,
    char signature[EDGE_GATEWAY_SIGNATURE_SIZE])
{
	unsigned char raw[64];
	size_t raw_len = sizeof(raw);
	EVP_MD_CTX *context = EVP_MD_CTX_new();
	bool signed_ok;

	/* Ed25519 signs the message itself, so there is no digest to name. */
	signed_ok = context != NULL &&
	    EVP_DigestSignInit(context, NULL, NULL, NULL, device->key) == 1 &&
	    EVP_DigestSign(context, raw, &raw_len, (const unsigned char *)text,
	    strlen(text)) == 1 && raw_len == sizeof(raw);
	EVP_MD_CTX_free(context);
	if (!signed_ok)
		return false;
	return edge_base64url_encode(raw, raw_len, signature,
	    EDGE_GATEWAY_SIGNATURE_SIZE);
}
