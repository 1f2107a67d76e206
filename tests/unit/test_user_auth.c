/* Tests for user authentication. They cover the Authorization header forms
 * of local mode and its token comparison, and jwt mode end to end through a
 * JWKS file with tokens signed here. They also check the log line of each
 * rejection (never the token) and initialisation failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "check.h"
#include "jwt_sign.h"
#include "user_auth.h"

#define LOCAL_TOKEN "tok3n-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF"

static stderr_capture capture;

/* Runs edge_user_auth_check with the log captured. id receives the user id. */
static edge_err
check_header(edge_user_auth *auth, const char *header, char *id, size_t id_size)
{
	edge_err err;

	capture_begin(&capture);
	err = edge_user_auth_check(auth, header, id, id_size);
	capture_end(&capture);
	return err;
}

static edge_err
init_with(const edge_config *config, edge_user_auth **auth)
{
	edge_err err;

	capture_begin(&capture);
	err = edge_user_auth_init(config, auth);
	capture_end(&capture);
	return err;
}

static void
test_local_mode(void)
{
	static const char *const accepted[] = {
		"Bearer " LOCAL_TOKEN, "bearer " LOCAL_TOKEN, "BEARER " LOCAL_TOKEN,
		"Bearer    " LOCAL_TOKEN, "  Bearer " LOCAL_TOKEN " \t",
	};
	static const char *const rejected[] = {
		"", "Bearer", "Bearer ", "Bearer  ", LOCAL_TOKEN, "Bearer" LOCAL_TOKEN,
		"Bearer\t" LOCAL_TOKEN, "Basic " LOCAL_TOKEN, "Token " LOCAL_TOKEN,
		"Bearer " LOCAL_TOKEN " extra", "Bearer " LOCAL_TOKEN ",",
		"Bearer " LOCAL_TOKEN "x", "Bearer tok3n-0123456789",
		"Bearer Tok3n-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF",
		"Bearer " LOCAL_TOKEN "\r\nX-Injected: 1", "Bearer x " LOCAL_TOKEN,
		"Bearers " LOCAL_TOKEN,
	};
	edge_config config;
	edge_user_auth *auth = NULL;
	char id[EDGE_USER_ID_SIZE];

	memset(&config, 0, sizeof(config));
	config.auth_mode = EDGE_AUTH_LOCAL;
	config.local_auth_token = LOCAL_TOKEN;
	CHECK_INT_EQ(init_with(&config, &auth), EDGE_OK, "local auth init");
	if (auth == NULL)
		return;

	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		strcpy(id, "unset");
		CHECKF(check_header(auth, accepted[i], id, sizeof(id)) == EDGE_OK,
		    "local auth accepts bearer form", "rejected \"%s\"", accepted[i]);
		CHECK_STR_EQ(id, EDGE_LOCAL_AUTH_USER, "local auth gives local user id");
		CHECK_INT_EQ(capture.len, 0, "local auth success logs nothing");
	}

	for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
		strcpy(id, "unset");
		CHECKF(check_header(auth, rejected[i], id, sizeof(id)) == EDGE_ERR_INVALID,
		    "local auth rejects header", "accepted \"%s\"", rejected[i]);
		CHECK_STR_EQ(id, "unset", "local auth rejection leaves id");
		CHECK_INT_EQ(capture_line_count(&capture), 1, "local auth rejection one log line");
		CHECKF(strstr(capture.text, "tok3n") == NULL,
		    "local auth log hides token", "log: %s", capture.text);
		CHECKF(strstr(capture.text, "Tok3n") == NULL,
		    "local auth log hides capitalized token", "log: %s",
		    capture.text);
	}

	CHECK_INT_EQ(check_header(auth, NULL, id, sizeof(id)), EDGE_ERR_INVALID,
	    "local auth missing header rejected");
	CHECKF(strstr(capture.text, "no Authorization header") != NULL,
	    "local auth missing header logged", "log: %s", capture.text);
	CHECK_INT_EQ(check_header(auth, "Bearer wrong-token", id, sizeof(id)),
	    EDGE_ERR_INVALID, "local auth wrong token rejected");
	CHECKF(strstr(capture.text, "does not match") != NULL,
	    "local auth wrong token logged", "log: %s", capture.text);

	/* Identity comes only from the header, never from CGI variables. */
	setenv("REMOTE_USER", "local-auth-user", 1);
	setenv("AUTH_TYPE", "Bearer", 1);
	CHECK_INT_EQ(check_header(auth, NULL, id, sizeof(id)), EDGE_ERR_INVALID,
	    "local auth ignores REMOTE_USER");
	unsetenv("REMOTE_USER");
	unsetenv("AUTH_TYPE");

	CHECK_INT_EQ(check_header(auth, "Bearer " LOCAL_TOKEN, id, 8), EDGE_ERR_INVALID,
	    "local auth small id buffer fails closed");
	edge_user_auth_free(auth);
	edge_user_auth_free(NULL);

	config.local_auth_token = NULL;
	auth = (edge_user_auth *)1;
	CHECK_INT_EQ(init_with(&config, &auth), EDGE_ERR_CONFIG,
	    "local auth init without token fails");
	CHECK(auth == NULL, "local auth failed init gives NULL");
}

/* Writes text into path. */
static void
write_file(const char *path, const char *text)
{
	FILE *file = fopen(path, "w");

	if (file == NULL || fputs(text, file) < 0 || fclose(file) != 0) {
		perror(path);
		exit(2);
	}
}

/* Signs an EdDSA token for sub with times relative to the current clock. */
static const char *
bearer_jwt(EVP_PKEY *key, const char *sub, const char *iss, long exp_in,
    char *header)
{
	static char token[TEST_TOKEN_SIZE];
	char claims[512];
	long long now = (long long)time(NULL);

	snprintf(claims, sizeof(claims),
	    "{\"sub\":\"%s\",\"iss\":\"%s\",\"aud\":[\"mc-edge\"],\"iat\":%lld,\"exp\":%lld}",
	    sub, iss, now, now + exp_in);
	test_token("EdDSA", "ed-1", claims, key, token);
	snprintf(header, TEST_TOKEN_SIZE + 16, "Bearer %s", token);
	return token;
}

static void
test_jwt_mode(void)
{
	static char header[TEST_TOKEN_SIZE + 16];
	char dir[] = "/tmp/mc-edge-test-user-auth.XXXXXX", path[256], jwk[512], text[700];
	EVP_PKEY *key = test_key_generate("ED25519", 0);
	EVP_PKEY *other = test_key_generate("ED25519", 0);
	edge_user_auth *auth = NULL;
	edge_config config;
	char id[EDGE_USER_ID_SIZE];
	const char *token, *signature;

	if (mkdtemp(dir) == NULL) {
		check_skip("user auth jwt mode", "mkdtemp failed");
		return;
	}
	snprintf(path, sizeof(path), "%s/jwks.json", dir);
	memset(&config, 0, sizeof(config));
	config.auth_mode = EDGE_AUTH_JWT;
	config.jwt_jwks_file = path;
	config.jwt_issuer = "https://issuer.test";
	config.jwt_audience = "mc-edge";
	config.jwt_leeway_s = 10;

	CHECK_INT_EQ(init_with(&config, &auth), EDGE_ERR_CONFIG,
	    "jwt auth init without file fails");
	CHECKF(strstr(capture.text, path) != NULL, "jwt auth init failure names file",
	    "log: %s", capture.text);

	test_jwk(key, "ed-1", NULL, "", jwk, sizeof(jwk));
	snprintf(text, sizeof(text), "{\"keys\":[%s]}", jwk);
	write_file(path, text);
	CHECK_INT_EQ(init_with(&config, &auth), EDGE_OK, "jwt auth init");
	if (auth == NULL)
		goto done;

	bearer_jwt(key, "user_2abc", "https://issuer.test", 300, header);
	CHECK_INT_EQ(check_header(auth, header, id, sizeof(id)), EDGE_OK,
	    "jwt auth accepts valid token");
	CHECK_STR_EQ(id, "user_2abc", "jwt auth gives sub as user id");

	/* Each rejection logs its reason and neither the token nor its signature. */
	static const struct {
		const char *name, *reason, *iss;
		long exp_in;
		bool other_key;
	} cases[] = {
		{ "jwt auth rejects expired token", "expired", "https://issuer.test", -60, false },
		{ "jwt auth rejects wrong issuer", "wrong issuer", "https://evil.test", 300, false },
		{ "jwt auth rejects wrong key", "bad signature", "https://issuer.test", 300, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		token = bearer_jwt(cases[i].other_key ? other : key, "user_2abc",
		    cases[i].iss, cases[i].exp_in, header);
		signature = strrchr(token, '.') + 1;
		CHECK_INT_EQ(check_header(auth, header, id, sizeof(id)), EDGE_ERR_INVALID,
		    cases[i].name);
		CHECKF(strstr(capture.text, cases[i].reason) != NULL, cases[i].name,
		    "log lacks \"%s\": %s", cases[i].reason, capture.text);
		CHECK_INT_EQ(capture_line_count(&capture), 1, "jwt auth rejection one log line");
		CHECKF(strstr(capture.text, signature) == NULL,
		    "jwt auth log hides signature", "log: %s", capture.text);
		CHECKF(strstr(capture.text, "eyJ") == NULL,
		    "jwt auth log hides token", "log: %s", capture.text);
	}

	/* A local-mode token means nothing in jwt mode. */
	CHECK_INT_EQ(check_header(auth, "Bearer " LOCAL_TOKEN, id, sizeof(id)),
	    EDGE_ERR_INVALID, "jwt auth rejects opaque token");
	CHECKF(strstr(capture.text, "malformed") != NULL, "jwt auth opaque token logged",
	    "log: %s", capture.text);

	/* Key rotation through the file is seen on the next check. */
	test_jwk(other, "ed-1", NULL, "", jwk, sizeof(jwk));
	snprintf(text, sizeof(text), "{\"keys\":[%s]}", jwk);
	write_file(path, text);
	bearer_jwt(other, "user_3", "https://issuer.test", 300, header);
	CHECK_INT_EQ(check_header(auth, header, id, sizeof(id)), EDGE_OK,
	    "jwt auth follows rotated JWKS file");
	CHECK_STR_EQ(id, "user_3", "jwt auth rotated key gives sub");

	edge_user_auth_free(auth);

	/* A file with only private keys contains no usable key. */
	write_file(path, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
	    "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}]}");
	CHECK_INT_EQ(init_with(&config, &auth), EDGE_ERR_CONFIG,
	    "jwt auth init with private key only fails");
	CHECKF(strstr(capture.text, "nWGxne") == NULL, "jwt auth private key not logged",
	    "log: %s", capture.text);

done:
	unlink(path);
	rmdir(dir);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

int
main(void)
{
	test_local_mode();
	test_jwt_mode();
	return check_summary();
}
