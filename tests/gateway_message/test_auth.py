"""Credentials and settings of gateway-message: local mode's shared token
and its misconfigurations, the endpoint's own settings, and jwt mode with
tokens signed by tests/fixtures/jwt/make_jwt.py."""

import json

from harness import expect, expect_equal
from message_harness import (BASE_ENV, JWT_AUDIENCE, JWT_ISSUER, LOCAL_TOKEN, Scene,
                             expect_error, expect_success, jwks_file, jwt_token,
                             message_content, message_path, running_gateway, send)
from suite import Module

LOCAL_MODULE = Module("gateway-message local auth", env=BASE_ENV)


def expect_misconfigured(response, variable):
    expect_error(response, 500, "Server misconfigured")
    expect(variable in response.log, f"no log line names {variable}: {response.log[-300:]!r}")


@LOCAL_MODULE.cgi("unusable LOCAL_AUTH_TOKEN answers 500")
def local_token_unusable(t, ctx):
    scene = Scene(ctx.db)
    path = message_path(board_id=scene.board_id)
    cases = {
        "unset": None,
        "empty": "",
        "49 characters": "a" * 49,
        "placeholder": "change-me",
        "placeholder in capitals": "REPLACE-WITH-STRONG-RANDOM-TOKEN",
    }
    for label, value in cases.items():
        response = send(t, path, token=value or "x" * 60, env={"LOCAL_AUTH_TOKEN": value})
        expect_misconfigured(response, "LOCAL_AUTH_TOKEN")
        if value:
            expect(value not in response.log, f"the log shows the {label} token")


@LOCAL_MODULE.cgi("invalid endpoint settings answer 500")
def settings_invalid(t, ctx):
    scene = Scene(ctx.db)
    path = message_path(board_id=scene.board_id)
    for name, value in (("GATEWAY_MESSAGE_MAX_BODY_BYTES", "0"),
                        ("GATEWAY_MESSAGE_MAX_BODY_BYTES", "1048577"),
                        ("GATEWAY_MESSAGE_MAX_BODY_BYTES", "64k"),
                        ("GATEWAY_TIMEOUT_MS", "0"),
                        ("GATEWAY_TIMEOUT_MS", "soon"),
                        ("RATE_LIMIT_GATEWAY_MESSAGE", "many"),
                        ("AUTH_MODE", "clerk")):
        response = send(t, path, env={name: value})
        expect_misconfigured(response, name)


@LOCAL_MODULE.both("smaller body limit applies")
def smaller_body_limit(t, ctx):
    with running_gateway(ctx) as gateway:
        scene = Scene(ctx.db, gateway.url)
        path = message_path("s", scene.board_id)
        with ctx.variant(t, {"GATEWAY_MESSAGE_MAX_BODY_BYTES": "100"}) as variant:
            fits = json.dumps({"content": "a" * 85}).encode()
            expect_equal(len(fits), 100, "size of the body at the limit")
            expect_success(send(variant, path, body=fits))
            expect_error(send(variant, path, body=json.dumps({"content": "a" * 86}).encode()), 413,
                         "Payload too large.")
        expect_equal(len(gateway.chat_sends()), 1, "chat.send records")


@LOCAL_MODULE.both("local token maps to the local user")
def local_user(t, ctx):
    with running_gateway(ctx) as gateway:
        scene = Scene(ctx.db, gateway.url)
        content = message_content("local user")
        expect_success(send(t, message_path("s", scene.board_id), content=content,
                            authorization=f"bearer   {LOCAL_TOKEN}"))
        expect_equal([record["message"] for record in gateway.chat_sends()], [content], "messages")


# ---------------------------------------------------------------------------
# jwt mode
# ---------------------------------------------------------------------------

JWT_USER = "user_2jwtTestSubject"


def jwt_env():
    return dict(BASE_ENV, AUTH_MODE="jwt", JWT_JWKS_FILE=jwks_file(), JWT_ISSUER=JWT_ISSUER,
                JWT_AUDIENCE=JWT_AUDIENCE, LOCAL_AUTH_TOKEN=None)


JWT_MODULE = Module("gateway-message jwt auth", env=jwt_env())


@JWT_MODULE.both("valid JWT delivers as its subject")
def jwt_valid(t, ctx):
    with running_gateway(ctx) as gateway:
        scene = Scene(ctx.db, gateway.url, clerk_user_id=JWT_USER)
        path = message_path("s", scene.board_id)
        for label in ("RS256", "ES256", "EdDSA"):
            token = jwt_token(JWT_USER, alg=label)
            content = message_content(f"jwt {label}")
            expect_success(send(t, path, token=token, content=content))
            expect_equal(gateway.chat_sends()[-1]["message"], content, f"message sent with {label}")


@JWT_MODULE.both("unusable JWTs get 401")
def jwt_invalid(t, ctx):
    scene = Scene(ctx.db, clerk_user_id=JWT_USER)
    path = message_path(board_id=scene.board_id)
    cases = {
        "expired": jwt_token(JWT_USER, exp_in=-120),
        "not yet valid": jwt_token(JWT_USER, nbf_in=120),
        "wrong issuer": jwt_token(JWT_USER, iss="https://other-issuer.test"),
        "wrong audience": jwt_token(JWT_USER, aud=["another-audience"]),
        # Signed by a key outside the set, under the listed RSA key's kid.
        "key not in the set": jwt_token(JWT_USER, wrong_key=True),
        "alg none": jwt_token(JWT_USER, none=True),
        "kid of the RSA key, signed by the EC key": jwt_token(JWT_USER, alg="ES256",
                                                              kid="rsa-1"),
        "HS256 keyed with the public key": jwt_token(JWT_USER, swap=True),
        "signature cut": jwt_token(JWT_USER)[:-4],
        "local token": BASE_ENV["LOCAL_AUTH_TOKEN"],
    }
    for label, token in cases.items():
        response = send(t, path, token=token)
        expect_error(response, 401, "Not authenticated")
        expect_equal(response.header("WWW-Authenticate"), "Bearer", f"WWW-Authenticate for {label}")


@JWT_MODULE.both("JWT of an unknown user gets 403")
def jwt_unknown_user(t, ctx):
    scene = Scene(ctx.db, clerk_user_id=JWT_USER)
    # The token is valid, so the credentials pass; its subject has no users row.
    response = send(t, message_path(board_id=scene.board_id), token=jwt_token("user_unknown"))
    expect_error(response, 403)


@JWT_MODULE.both("JWT of a plain member gets 403")
def jwt_member(t, ctx):
    scene = Scene(ctx.db, clerk_user_id=JWT_USER, role="member")
    expect_error(send(t, message_path(board_id=scene.board_id), token=jwt_token(JWT_USER)), 403)
