/* Tests for the gateway device identity. They cover the key file created on
 * first use (mode 0600, one key when processes race) and the files that are
 * rejected. They check the device id against an independent SHA-256,
 * base64url against test vectors, and signatures with OpenSSL's verify over
 * the expected text. */
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_token.h"
#include "check.h"
#include "gateway_device.h"
#include "gateway_frame.h"
#include "hmac.h"

static char dir[64];

static void
path_in_dir(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

/* Reads the raw public key of the PEM private key at path, independently
 * of the code under test. */
static bool
read_raw_public_key(const char *path, unsigned char raw[32])
{
	FILE *file = fopen(path, "r");
	EVP_PKEY *key;
	size_t len = 32;
	bool ok;

	if (file == NULL)
		return false;
	key = PEM_read_PrivateKey(file, NULL, NULL, NULL);
	fclose(file);
	ok = key != NULL && EVP_PKEY_get_raw_public_key(key, raw, &len) == 1 &&
	    len == 32;
	EVP_PKEY_free(key);
	return ok;
}

static void
test_base64url_known_answers(void)
{
	static const struct {
		const char *input;
		size_t len;
		const char *expected;
	} cases[] = {
		/* RFC 4648 section 10, padding removed. */
		{ "", 0, "" },
		{ "f", 1, "Zg" },
		{ "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg" },
		{ "fooba", 5, "Zm9vYmE" },
		{ "foobar", 6, "Zm9vYmFy" },
		/* Standard base64 "+/8=" becomes "-_8" in the URL-safe alphabet. */
		{ "\xfb\xff", 2, "-_8" },
		{ "\xff\xff\xfe", 3, "___-" },
	};
	char out[32], name[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "base64url known answer %zu", i);
		out[0] = '\0';
		edge_base64url_encode((const unsigned char *)cases[i].input,
		    cases[i].len, out, sizeof(out));
		CHECK_STR_EQ(out, cases[i].expected, name);
	}
}

static void
test_create_on_first_use(void)
{
	unsigned char raw[32], digest[32], decoded[32];
	char path[128], hex[65];
	edge_gateway_device *device = NULL, *again = NULL;
	struct stat st;
	size_t decoded_len = 0;

	path_in_dir(path, sizeof(path), "first.pem");
	CHECK_INT_EQ(edge_gateway_device_load(path, &device), EDGE_OK,
	    "device key created on first use");
	CHECK_INT_EQ(stat(path, &st), 0, "device key file exists");
	CHECK(S_ISREG(st.st_mode), "device key file is a regular file");
	CHECK_INT_EQ(st.st_mode & 07777, 0600, "device key file mode 0600");
	if (device == NULL)
		return;

	/* The device id is the hex SHA-256 of the raw public key, computed here
	 * independently of the code under test. */
	CHECK(read_raw_public_key(path, raw), "device key file readable by OpenSSL");
	SHA256(raw, sizeof(raw), digest);
	edge_hex_encode(digest, sizeof(digest), hex);
	CHECK_STR_EQ(edge_gateway_device_id(device), hex,
	    "device id is hex SHA-256 of raw public key");
	CHECK(edge_base64url_decode(edge_gateway_device_public_key(device),
	    strlen(edge_gateway_device_public_key(device)), decoded,
	    sizeof(decoded), &decoded_len) && decoded_len == 32 &&
	    memcmp(decoded, raw, 32) == 0, "device public key is base64url raw key");
	CHECK_INT_EQ(strlen(edge_gateway_device_public_key(device)), 43,
	    "device public key has no padding");

	CHECK_INT_EQ(edge_gateway_device_load(path, &again), EDGE_OK,
	    "device key loaded the second time");
	CHECK_STR_EQ(again != NULL ? edge_gateway_device_id(again) : NULL, hex,
	    "device key reused, not replaced");
	edge_gateway_device_free(device);
	edge_gateway_device_free(again);
}

/* Verifies base64url signature over text with the key in path. */
static bool
verify(const char *path, const char *text, const char *signature)
{
	unsigned char raw[32], sig[64];
	size_t sig_len = 0;
	EVP_PKEY *key;
	EVP_MD_CTX *context;
	bool ok;

	if (!read_raw_public_key(path, raw) ||
	    !edge_base64url_decode(signature, strlen(signature), sig, sizeof(sig),
	    &sig_len) || sig_len != 64)
		return false;
	key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	context = EVP_MD_CTX_new();
	ok = key != NULL && context != NULL &&
	    EVP_DigestVerifyInit(context, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestVerify(context, sig, 64, (const unsigned char *)text,
	    strlen(text)) == 1;
	EVP_MD_CTX_free(context);
	EVP_PKEY_free(key);
	return ok;
}

static void
test_signature(void)
{
	char path[128], expected[512], signature[EDGE_GATEWAY_SIGNATURE_SIZE] = "";
	edge_gateway_device *device = NULL;
	const char *id;
	bool signed_ok;
	char *text;

	path_in_dir(path, sizeof(path), "sign.pem");
	if (edge_gateway_device_load(path, &device) != EDGE_OK) {
		CHECK(false, "device key for signing");
		return;
	}
	id = edge_gateway_device_id(device);

	snprintf(expected, sizeof(expected), "v2|%s|gateway-client|backend|"
	    "operator|operator.read,operator.admin,operator.approvals,"
	    "operator.pairing|1796000000123|tok-en|nonce-9", id);
	text = edge_gateway_device_signed_text(id, EDGE_GATEWAY_CLIENT_ID,
	    EDGE_GATEWAY_CLIENT_MODE, EDGE_GATEWAY_ROLE,
	    EDGE_GATEWAY_SCOPES_JOINED, 1796000000123LL, "tok-en", "nonce-9");
	CHECK_STR_EQ(text, expected, "signed text v2 with nonce");
	signed_ok = text != NULL &&
	    edge_gateway_device_sign(device, text, signature);
	CHECK(signed_ok, "device signs v2 text");
	CHECK_INT_EQ(strlen(signature), 86, "signature base64url without padding");
	CHECK(verify(path, expected, signature), "signature verifies with OpenSSL");
	expected[strlen(expected) - 1] = '8';
	CHECK(!verify(path, expected, signature),
	    "signature fails on a changed nonce");
	free(text);

	snprintf(expected, sizeof(expected), "v1|%s|gateway-client|backend|"
	    "operator|operator.read,operator.admin,operator.approvals,"
	    "operator.pairing|42|", id);
	text = edge_gateway_device_signed_text(id, EDGE_GATEWAY_CLIENT_ID,
	    EDGE_GATEWAY_CLIENT_MODE, EDGE_GATEWAY_ROLE,
	    EDGE_GATEWAY_SCOPES_JOINED, 42, NULL, NULL);
	CHECK_STR_EQ(text, expected, "signed text v1 without token or nonce");
	signature[0] = '\0';
	signed_ok = text != NULL &&
	    edge_gateway_device_sign(device, text, signature);
	CHECK(signed_ok, "device signs v1 text");
	CHECK(verify(path, expected, signature), "v1 signature verifies");
	free(text);
	edge_gateway_device_free(device);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror("write");
		fchmod(fd, mode);
		close(fd);
	}
}

/* Writes a PEM private key of another type (EC P-256). */
static void
write_ec_key(const char *path)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	FILE *file;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || key == NULL)
		return;
	file = fdopen(fd, "w");
	PEM_write_PrivateKey(file, key, NULL, NULL, 0, NULL, NULL);
	fclose(file);
	EVP_PKEY_free(key);
}

static void
expect_rejected(const char *path, const char *name)
{
	edge_gateway_device *device = NULL;

	CHECK_INT_EQ(edge_gateway_device_load(path, &device), EDGE_ERR_CONFIG, name);
	CHECK(device == NULL, name);
	edge_gateway_device_free(device);
}

static void
test_rejected_files(void)
{
	char good[128], path[128], pem[1024];
	edge_gateway_device *device = NULL;
	FILE *file;
	size_t len;

	path_in_dir(good, sizeof(good), "good.pem");
	if (edge_gateway_device_load(good, &device) != EDGE_OK) {
		CHECK(false, "device key for rejection tests");
		return;
	}
	edge_gateway_device_free(device);
	file = fopen(good, "r");
	len = file != NULL ? fread(pem, 1, sizeof(pem) - 1, file) : 0;
	if (file != NULL)
		fclose(file);
	pem[len] = '\0';

	path_in_dir(path, sizeof(path), "group-readable.pem");
	write_file(path, pem, 0640);
	expect_rejected(path, "device key readable by group rejected");
	path_in_dir(path, sizeof(path), "other-readable.pem");
	write_file(path, pem, 0604);
	expect_rejected(path, "device key readable by others rejected");
	path_in_dir(path, sizeof(path), "group-writable.pem");
	write_file(path, pem, 0620);
	expect_rejected(path, "device key writable by group rejected");
	chmod(path, 0600);
	CHECK_INT_EQ(edge_gateway_device_load(path, &device), EDGE_OK,
	    "same key accepted after chmod 600");
	edge_gateway_device_free(device);
	device = NULL;

	path_in_dir(path, sizeof(path), "link.pem");
	if (symlink(good, path) == 0)
		expect_rejected(path, "device key symbolic link rejected");
	path_in_dir(path, sizeof(path), "subdir");
	mkdir(path, 0700);
	expect_rejected(path, "device key directory rejected");
	path_in_dir(path, sizeof(path), "ec.pem");
	write_ec_key(path);
	expect_rejected(path, "device key of another type rejected");
	path_in_dir(path, sizeof(path), "garbage.pem");
	write_file(path, "not a key\n", 0600);
	expect_rejected(path, "device key file without PEM rejected");
	path_in_dir(path, sizeof(path), "empty.pem");
	write_file(path, "", 0600);
	expect_rejected(path, "empty device key file rejected");
	path_in_dir(path, sizeof(path), "missing-dir/key.pem");
	expect_rejected(path, "device key in a missing directory rejected");
	expect_rejected("", "empty device key path rejected");
}

/* Two processes create the same missing key file at once: both must end
 * up with the key that was linked first. */
static void
test_creation_race(void)
{
	char path[128], ids[2][EDGE_GATEWAY_DEVICE_ID_SIZE] = { "", "" };
	int pipes[2][2];
	pid_t children[2];

	path_in_dir(path, sizeof(path), "race.pem");
	for (int i = 0; i < 2; i++) {
		if (pipe(pipes[i]) != 0)
			return;
		children[i] = fork();
		if (children[i] == 0) {
			edge_gateway_device *device = NULL;
			const char *id = "failed";

			if (edge_gateway_device_load(path, &device) == EDGE_OK)
				id = edge_gateway_device_id(device);
			if (write(pipes[i][1], id, strlen(id)) < 0)
				_exit(2);
			_exit(0);
		}
		close(pipes[i][1]);
	}
	for (int i = 0; i < 2; i++) {
		ssize_t n = read(pipes[i][0], ids[i], sizeof(ids[i]) - 1);

		ids[i][n > 0 ? n : 0] = '\0';
		close(pipes[i][0]);
		waitpid(children[i], NULL, 0);
	}
	CHECK_INT_EQ(strlen(ids[0]), 64, "racing process got a key");
	CHECK_STR_EQ(ids[1], ids[0], "racing processes share one key");
}

static void
remove_dir(void)
{
	char command[128];

	snprintf(command, sizeof(command), "rm -rf '%s'", dir);
	if (system(command) != 0)
		fprintf(stderr, "removing %s failed\n", dir);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mc-edge-device-test.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_base64url_known_answers();
	test_create_on_first_use();
	test_signature();
	test_rejected_files();
	for (int i = 0; i < 5; i++) {
		char path[128];

		test_creation_race();
		path_in_dir(path, sizeof(path), "race.pem");
		unlink(path);
	}
	remove_dir();
	return check_summary();
}
