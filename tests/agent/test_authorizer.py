"""agent-auth as a FastCGI authorizer: through lighttpd in front of the
agent-only example location of lighttpd.conf, and as plain CGI with
FCGI_ROLE=AUTHORIZER."""

from agent_harness import (BASE_ENV, HEALTHZ, PROTECTED_FILE, PROTECTED_SCRIPT, Fleet,
                           environment_lines, eventually_ok, expect_error,
                           expect_invalid_token_logged, expect_retry_after, get,
                           install_protected_files, new_token)
from harness import expect, expect_equal
from suite import Module
from test_routes import remove_gateway

MODULE = Module("agent authorizer", env=BASE_ENV)

# Client headers that imitate the authorizer's variables.
FORGED_HEADERS = [("Variable-AGENT_ID", "forged-variable"), ("AGENT_ID", "forged-plain"),
                  ("Agent-Id", "forged-dashed"), ("Variable-AGENT-BOARD-ID", "forged-board")]


def protected(t, token=None, **options):
    install_protected_files(t)
    return get(t, PROTECTED_SCRIPT, token=token, **options)


@MODULE.fcgi("identity reaches the protected program")
def identity_reaches_program(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent()
    eventually_ok(t, HEALTHZ, token)
    response = protected(t, token=token, headers=FORGED_HEADERS)
    expect_equal(response.status, 200, "status")
    variables = environment_lines(response)
    expect_equal(variables.get("AGENT_ID"), agent_id, "AGENT_ID")
    expect_equal(variables.get("AGENT_BOARD_ID"), fleet.board_id, "AGENT_BOARD_ID")
    expect_equal(variables.get("AGENT_GATEWAY_ID"), fleet.gateway_id, "AGENT_GATEWAY_ID")
    expect_equal(variables.get("AGENT_ORGANIZATION_ID"), fleet.organization_id,
                 "AGENT_ORGANIZATION_ID")
    # The forged headers exist only under their HTTP_ names.
    expect_equal(variables.get("HTTP_VARIABLE_AGENT_ID"), "forged-variable", "HTTP_VARIABLE_AGENT_ID")
    expect("forged" in variables.get("HTTP_AGENT_ID", ""), "HTTP_AGENT_ID missing")
    expect("forged" not in "".join(value for name, value in variables.items()
                                   if not name.startswith("HTTP_")),
           "a forged header value reached a variable outside HTTP_*")


@MODULE.fcgi("gateway-level identity has no board")
def gateway_identity(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent(gateway_level=True)
    eventually_ok(t, HEALTHZ, token)
    variables = environment_lines(protected(t, token=token))
    expect_equal(variables.get("AGENT_ID"), agent_id, "AGENT_ID")
    expect_equal(variables.get("AGENT_BOARD_ID"), "", "AGENT_BOARD_ID")
    expect_equal(variables.get("AGENT_ORGANIZATION_ID"), fleet.organization_id,
                 "AGENT_ORGANIZATION_ID")

    remove_gateway(ctx.db, fleet.gateway_id)
    variables = environment_lines(protected(t, token=token))
    expect_equal(variables.get("AGENT_ORGANIZATION_ID"), "", "AGENT_ORGANIZATION_ID without gateway")


@MODULE.fcgi("bad tokens never reach the program")
def bad_tokens_stop(t, ctx):
    fleet = Fleet(ctx.db)
    _, token = fleet.agent()
    eventually_ok(t, HEALTHZ, token)
    expect_error(protected(t, headers=FORGED_HEADERS), 401, "Missing agent token.")
    invalid = new_token()
    expect_error(protected(t, token=invalid, headers=FORGED_HEADERS), 401, "Invalid agent token.")
    expect_invalid_token_logged(invalid, PROTECTED_SCRIPT)
    expect_error(protected(t, token=token, bearer=f"Bearer {invalid}"), 401,
                 "Conflicting agent tokens.")
    expect_error(get(t, PROTECTED_FILE), 401, "Missing agent token.")


@MODULE.fcgi("static file served after authorization")
def static_file(t, ctx):
    _, token = Fleet(ctx.db).agent()
    eventually_ok(t, HEALTHZ, token)
    install_protected_files(t)
    response = get(t, PROTECTED_FILE, bearer=f"Bearer {token}")
    expect_equal(response.status, 200, "status")
    expect_equal(response.body, b"ok\n", "body")


@MODULE.fcgi("authorizer shares the route bucket")
def shared_bucket(t, ctx):
    _, token = Fleet(ctx.db).agent()
    eventually_ok(t, HEALTHZ, token)
    client = "203.0.113.88"
    for _ in range(10):
        expect_equal(get(t, HEALTHZ, token=token, client=client).status, 200, "route status")
        expect_equal(protected(t, token=token, client=client).status, 200, "authorizer status")
    for response in (protected(t, token=token, client=client),
                     get(t, HEALTHZ, token=token, client=client)):
        expect_error(response, 429, "Too many requests.")
        expect_retry_after(response, 60)


@MODULE.cgi("authorizer role answers variables")
def authorizer_role_cgi(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent(gateway_level=True)
    authorizer = ctx.cgi({"FCGI_ROLE": "AUTHORIZER"})
    # The authorizer guards any path, so the path is not checked.
    response = get(authorizer, "/any/guarded/path", token=token)
    expect_equal(response.status, 200, "status")
    expect_equal(response.body, b"", "body")
    expect_equal(response.header("Variable-AGENT_ID"), agent_id, "Variable-AGENT_ID")
    expect_equal(response.header("Variable-AGENT_BOARD_ID"), "", "Variable-AGENT_BOARD_ID")
    expect_equal(response.header("Variable-AGENT_GATEWAY_ID"), fleet.gateway_id,
                 "Variable-AGENT_GATEWAY_ID")
    expect_equal(response.header("Variable-AGENT_ORGANIZATION_ID"), fleet.organization_id,
                 "Variable-AGENT_ORGANIZATION_ID")

    invalid = new_token()
    response = get(authorizer, "/any/guarded/path", token=invalid, method="POST")
    expect_error(response, 401, "Invalid agent token.")
    expect(response.header("Variable-AGENT_ID") is None, "a 401 carries Variable-AGENT_ID")
    expect_invalid_token_logged(invalid, "/any/guarded/path")
