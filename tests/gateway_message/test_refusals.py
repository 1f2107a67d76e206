"""Refused requests of gateway-message, one check per step of its order:
method, rate limit, credentials, membership and role, board_id, board,
organization, write access, body, and the board's gateway. No refused
request may reach the gateway. These boards point at a port that nothing
serves, so a request that got through would end in 502, not the status
expected here."""

import json

from harness import expect, expect_equal
from message_harness import (BASE_ENV, LOCAL_USER, RATE_LIMIT, RATE_WINDOW_S, Scene,
                             create_access, create_board, create_gateway, create_member,
                             create_organization, create_user, expect_error, message_path,
                             next_client, remove_gateway_row, send)
from suite import Module

MODULE = Module("gateway-message refusals", env=BASE_ENV)

MAX_BODY = 65536


@MODULE.both("other methods get 405 with Allow")
def other_methods(t, ctx):
    scene = Scene(ctx.db)
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = send(t, message_path(board_id=scene.board_id), method=method,
                        body=None if method == "GET" else b"{}")
        expect_error(response, 405, "Method Not Allowed")
        expect_equal(response.header("Allow"), "POST", f"Allow header for {method}")


@MODULE.both("other paths get 404")
def other_paths(t, ctx):
    scene = Scene(ctx.db)
    for path in ("/api/v1/gateways/sessions//message", "/api/v1/gateways/sessions/a/b/message",
                 "/api/v1/gateways/sessions/a/messages", "/api/v1/gateways/sessions/a/message/"):
        response = send(t, f"{path}?board_id={scene.board_id}")
        expect_error(response, 404, "Not Found")


@MODULE.both("rate limit comes before credentials")
def rate_limit(t, ctx):
    scene = Scene(ctx.db)
    client = next_client()
    path = message_path(board_id=scene.board_id)
    for attempt in range(RATE_LIMIT):
        response = send(t, path, token=None, client=client)
        expect_error(response, 401, "Not authenticated")
    refused = send(t, path, token=None, client=client)
    expect_error(refused, 429, "Too many requests.")
    retry_after = refused.header("Retry-After")
    expect(retry_after is not None and retry_after.isdigit() and
           1 <= int(retry_after) <= RATE_WINDOW_S, f"Retry-After {retry_after!r}")
    # A valid request from the same client is refused too, and another client is not.
    expect_error(send(t, path, client=client), 429, "Too many requests.")
    expect_error(send(t, path, token=None), 401, "Not authenticated")
    rows = ctx.db.query("SELECT count(*) FROM edge_rate_limit WHERE key LIKE %s",
                        (f"%gateway-message:{client}%",))
    expect(rows and rows[0][0] >= 1, f"no limiter row for gateway-message:{client}: {rows}")


@MODULE.both("missing or bad credentials get 401")
def bad_credentials(t, ctx):
    scene = Scene(ctx.db)
    path = message_path(board_id=scene.board_id)
    cases = {
        "no header": dict(token=None),
        "wrong token": dict(token="x" * 64),
        "token with a suffix": dict(authorization=f"Bearer {BASE_ENV['LOCAL_AUTH_TOKEN']}x"),
        "token cut short": dict(authorization=f"Bearer {BASE_ENV['LOCAL_AUTH_TOKEN'][:-1]}"),
        "basic scheme": dict(authorization=f"Basic {BASE_ENV['LOCAL_AUTH_TOKEN']}"),
        "scheme only": dict(authorization="Bearer"),
        "empty header": dict(authorization=""),
    }
    for label, options in cases.items():
        response = send(t, path, **options)
        expect_error(response, 401, "Not authenticated")
        expect_equal(response.header("WWW-Authenticate"), "Bearer", f"WWW-Authenticate for {label}")


@MODULE.both("server identity headers never authenticate")
def injected_identity(t, ctx):
    scene = Scene(ctx.db)
    path = message_path(board_id=scene.board_id)
    headers = [("X-Remote-User", LOCAL_USER), ("Remote-User", LOCAL_USER),
               ("Auth-Type", "Bearer"), ("X-Forwarded-User", LOCAL_USER)]
    env = None
    if t.mode == "cgi":
        # Only plain CGI lets the test set the server's own variables.
        env = {"REMOTE_USER": LOCAL_USER, "AUTH_TYPE": "Bearer"}
    response = send(t, path, token=None, headers=headers, env=env)
    expect_error(response, 401, "Not authenticated")


@MODULE.both("caller without membership gets 403")
def no_membership(t, ctx):
    scene = Scene(ctx.db, clerk_user_id="someone-else")
    path = message_path(board_id=scene.board_id)
    # The local user has no users row at all.
    expect_error(send(t, path), 403)
    # Then a users row without any membership.
    create_user(ctx.db, LOCAL_USER, scene.organization_id)
    expect_error(send(t, path), 403)


@MODULE.both("member role gets 403")
def member_role(t, ctx):
    scene = Scene(ctx.db, role="member", all_boards_write=True)
    create_access(ctx.db, scene.member_id, scene.board_id, can_write=True)
    response = send(t, message_path(board_id=scene.board_id))
    expect_error(response, 403)


@MODULE.both("403 for role comes before 422 for board_id")
def role_before_board_id(t, ctx):
    Scene(ctx.db, role="member")
    expect_error(send(t, message_path()), 403)
    expect_error(send(t, message_path(board_id="not-a-uuid")), 403)


@MODULE.both("active organization decides the role")
def active_organization(t, ctx):
    # The user is a plain member of its active organization and an admin of
    # an older one: the active organization's membership counts.
    scene = Scene(ctx.db, role="member")
    older = create_organization(ctx.db, "Older organization")
    create_member(ctx.db, older, scene.user_id, "admin", True, age_s=3600)
    older_gateway = create_gateway(ctx.db, older, "ws://127.0.0.1:9")
    older_board = create_board(ctx.db, older, older_gateway)
    expect_error(send(t, message_path(board_id=older_board)), 403)

    # With an active organization where the user is no member, the oldest
    # membership counts: that admin membership reaches the gateway step.
    stranger = create_organization(ctx.db, "Organization without the user")
    ctx.db.query("UPDATE users SET active_organization_id = %s WHERE id = %s",
                 (stranger, scene.user_id))
    response = send(t, message_path(board_id=older_board))
    expect_error(response, 502)


@MODULE.both("board_id missing or malformed gets 422")
def board_id_invalid(t, ctx):
    scene = Scene(ctx.db)
    cases = {
        "no query": "",
        "empty board_id": "board_id=",
        "other parameter": f"board={scene.board_id}",
        "not a uuid": "board_id=not-a-uuid",
        "uuid with a suffix": f"board_id={scene.board_id}0",
        "bad escape": "board_id=%zz",
        "given twice": f"board_id={scene.board_id}&board_id={scene.board_id}",
    }
    for label, query in cases.items():
        response = send(t, message_path(query=query))
        expect_error(response, 422)
        expect("board_id" in response.json()["detail"], f"detail for {label} does not name board_id: "
               f"{response.describe()}")


# lighttpd 1.4.69 itself rejects these encoded bytes in a path with 400
# before any program runs; plain CGI shows what the program does with them.
SERVER_REJECTED_SESSIONS = {"NUL", "newline", "not UTF-8"}


@MODULE.both("session_id that is no key gets 422")
def session_id_invalid(t, ctx):
    scene = Scene(ctx.db)
    for label, session in (("NUL", "agent%00main"), ("newline", "agent%0Amain"),
                           ("not UTF-8", "agent%FFmain"), ("bad escape", "agent%G1"),
                           ("too long", "k" * 513)):
        response = send(t, message_path(session, scene.board_id))
        if t.mode == "fcgi" and label in SERVER_REJECTED_SESSIONS:
            expect_equal(response.status, 400, f"lighttpd's status for {label}")
            continue
        expect_error(response, 422)
        expect("session_id" in response.json()["detail"], f"detail for {label}: {response.describe()}")


@MODULE.both("unknown board gets 404")
def unknown_board(t, ctx):
    Scene(ctx.db)
    response = send(t, message_path(board_id="00000000-0000-4000-8000-000000000000"))
    expect_error(response, 404, "Board not found.")


@MODULE.both("board of another organization gets 403")
def foreign_board(t, ctx):
    scene = Scene(ctx.db)
    other = create_organization(ctx.db, "Another organization")
    other_gateway = create_gateway(ctx.db, other, "ws://127.0.0.1:9")
    other_board = create_board(ctx.db, other, other_gateway)
    expect_error(send(t, message_path(board_id=other_board)), 403)

    # An admin of that other organization (not the caller's active one) gets 403 too.
    create_member(ctx.db, other, scene.user_id, "admin", True, age_s=3600)
    expect_error(send(t, message_path(board_id=other_board)), 403)


@MODULE.both("no write access gets 403")
def no_write_access(t, ctx):
    scene = Scene(ctx.db, role="admin", all_boards_write=False)
    path = message_path(board_id=scene.board_id)
    # Admins get no bypass.
    expect_error(send(t, path), 403, "No write access to this board.")
    create_access(ctx.db, scene.member_id, scene.board_id, can_write=False)
    expect_error(send(t, path), 403, "No write access to this board.")
    # A write row for another board does not count.
    other_board = scene.board(name="Board with access")
    create_access(ctx.db, scene.member_id, other_board, can_write=True)
    expect_error(send(t, path), 403, "No write access to this board.")


@MODULE.both("owner with write row passes access")
def write_through_access_row(t, ctx):
    scene = Scene(ctx.db, role="owner", all_boards_write=False)
    create_access(ctx.db, scene.member_id, scene.board_id, can_write=True)
    # The access checks pass, so the unreachable gateway makes it a 502.
    expect_error(send(t, message_path(board_id=scene.board_id)), 502)


@MODULE.both("body over the limit gets 413")
def body_too_large(t, ctx):
    scene = Scene(ctx.db)
    path = message_path(board_id=scene.board_id)
    body = json.dumps({"content": "x" * MAX_BODY}).encode()
    expect_error(send(t, path, body=body), 413, "Payload too large.")
    exact = json.dumps({"content": "y" * (MAX_BODY - 15)}).encode()
    expect_equal(len(exact), MAX_BODY, "size of the body at the limit")
    expect_error(send(t, path, body=exact), 502)


@MODULE.cgi("declared length over the limit is refused unread")
def declared_too_large(t, ctx):
    scene = Scene(ctx.db)
    # stdin stays open, so reading the body would hang the run.
    response = t.send(path=message_path(board_id=scene.board_id), body=b"{",
                      headers=[("Authorization", f"Bearer {BASE_ENV['LOCAL_AUTH_TOKEN']}"),
                               ("X-Forwarded-For", next_client())],
                      content_length=str(MAX_BODY + 1), stdin_open=True, timeout_s=10)
    expect_error(response, 413, "Payload too large.")


@MODULE.both("403 comes before 413")
def access_before_size(t, ctx):
    scene = Scene(ctx.db, all_boards_write=False)
    body = json.dumps({"content": "x" * (MAX_BODY * 2)}).encode()
    expect_error(send(t, message_path(board_id=scene.board_id), body=body), 403)


@MODULE.both("body that is no message gets 422")
def body_invalid(t, ctx):
    scene = Scene(ctx.db)
    path = message_path(board_id=scene.board_id)
    cases = {
        "not JSON": b"content=hello",
        "empty body": b"",
        "JSON array": b'[{"content": "hello"}]',
        "JSON string": b'"hello"',
        "content missing": b'{"message": "hello"}',
        "content empty": b'{"content": ""}',
        "content a number": b'{"content": 5}',
        "content null": b'{"content": null}',
        "content an object": b'{"content": {"text": "hello"}}',
        "content with NUL": b'{"content": "a\\u0000b"}',
        "trailing data": b'{"content": "hello"} {}',
        "not UTF-8": b'{"content": "\xff"}',
    }
    for label, body in cases.items():
        response = send(t, path, body=body)
        expect_error(response, 422)
        expect_equal(response.status, 422, f"status for {label}")


@MODULE.both("board without a gateway gets 422")
def board_without_gateway(t, ctx):
    scene = Scene(ctx.db)
    board = scene.board(gateway_id=None, name="Board without gateway")
    expect_error(send(t, message_path(board_id=board)), 422, "Board has no gateway configured.")


@MODULE.both("missing gateway row gets 422")
def gateway_row_gone(t, ctx):
    scene = Scene(ctx.db)
    remove_gateway_row(ctx.db, scene.gateway_id)
    expect_error(send(t, message_path(board_id=scene.board_id)), 422, "Board's gateway not found.")


@MODULE.both("gateway of another organization gets 422")
def foreign_gateway(t, ctx):
    scene = Scene(ctx.db)
    other = create_organization(ctx.db, "Gateway owner")
    other_gateway = create_gateway(ctx.db, other, "ws://127.0.0.1:9")
    board = scene.board(gateway_id=other_gateway, name="Board on a foreign gateway")
    expect_error(send(t, message_path(board_id=board)), 422, "Board's gateway not found.")
