"""The responder routes of agent-auth: healthz, boards, presence refresh,
rate limiting and the responses to other methods and paths."""

import json

from agent_harness import (BASE_ENV, BOARDS, HEALTHZ, Fleet, agent_row, create_board,
                           create_gateway, create_organization, eventually_ok, expect_error,
                           expect_invalid_token_logged, expect_retry_after,
                           expect_security_headers, get, new_token)
from harness import expect, expect_equal
from suite import Module

MODULE = Module("agent routes", env=BASE_ENV)

LIMIT = 20
WINDOW_S = 60


def board_json(db, board_id):
    """Return the board row as PostgreSQL's row_to_json writes it."""
    return json.loads(db.query("SELECT row_to_json(b)::text FROM boards AS b WHERE id = %s",
                               (board_id,))[0][0])


def remove_gateway(db, gateway_id):
    """Delete a gateway row that agents and boards still reference, as a
    database without the foreign keys allows. session_replication_role
    switches the foreign-key triggers off for this connection only."""
    db.query("SET session_replication_role = replica")
    try:
        db.query("DELETE FROM gateways WHERE id = %s", (gateway_id,))
    finally:
        db.query("SET session_replication_role = DEFAULT")


@MODULE.both("healthz of a board agent")
def healthz_board_agent(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent(is_board_lead=True)
    response = eventually_ok(t, HEALTHZ, token)
    expect_equal(response.header("Content-Type"), "application/json", "Content-Type")
    expect_security_headers(response)
    expect_equal(response.json(), {"ok": True, "agent_id": agent_id, "board_id": fleet.board_id,
                                   "gateway_id": fleet.gateway_id, "status": "online",
                                   "is_board_lead": True}, "body")


@MODULE.both("healthz of a gateway-level agent")
def healthz_gateway_agent(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent(gateway_level=True)
    body = eventually_ok(t, HEALTHZ, token).json()
    expect_equal(body["board_id"], None, "board_id")
    expect_equal(body["gateway_id"], fleet.gateway_id, "gateway_id")
    expect_equal(body["is_board_lead"], False, "is_board_lead")


@MODULE.both("presence refreshed at most every 30 s")
def presence_refresh(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent(status="provisioning")
    before = agent_row(ctx.db, agent_id)
    expect(before["last_seen_at"] is None, "last_seen_at is set before any request")

    body = eventually_ok(t, HEALTHZ, token).json()
    touched = agent_row(ctx.db, agent_id)
    expect_equal(body["status"], "online", "status in the response")
    expect_equal(touched["status"], "online", "stored status")
    expect(touched["last_seen_at"] is not None, "last_seen_at not set")
    expect(touched["updated_at"] >= before["updated_at"], "updated_at not refreshed")

    expect_equal(get(t, HEALTHZ, token=token).status, 200, "second request status")
    expect_equal(agent_row(ctx.db, agent_id), touched, "row after a request within 30 s")

    for status in ("updating", "deleting"):
        ctx.db.query("UPDATE agents SET status = %s, last_seen_at = (now() AT TIME ZONE 'utc') "
                     "- interval '31 seconds' WHERE id = %s", (status, agent_id))
        stale = agent_row(ctx.db, agent_id)
        body = get(t, HEALTHZ, token=token).json()
        after = agent_row(ctx.db, agent_id)
        expect_equal(body["status"], status, f"status in the response for {status}")
        expect_equal(after["status"], status, f"stored status for {status}")
        expect(after["last_seen_at"] > stale["last_seen_at"], f"last_seen_at not refreshed for {status}")

    ctx.db.query("UPDATE agents SET status = 'offline', last_seen_at = (now() AT TIME ZONE 'utc') "
                 "- interval '10 seconds' WHERE id = %s", (agent_id,))
    fresh = agent_row(ctx.db, agent_id)
    expect_equal(get(t, HEALTHZ, token=token).json()["status"], "offline", "status of a fresh agent")
    expect_equal(agent_row(ctx.db, agent_id), fresh, "row of an agent seen 10 s ago")


@MODULE.both("board agent sees only its board")
def boards_of_board_agent(t, ctx):
    fleet = Fleet(ctx.db)
    create_board(ctx.db, fleet.organization_id, fleet.gateway_id, "Other board", age_s=5)
    create_board(ctx.db, fleet.organization_id, fleet.gateway_id, "Newest board", age_s=-5)
    _, token = fleet.agent()
    response = eventually_ok(t, BOARDS, token)
    expect_security_headers(response)
    expect_equal(response.json(), {"items": [board_json(ctx.db, fleet.board_id)], "total": 1,
                                   "limit": 200, "offset": 0}, "body")


@MODULE.both("gateway agent sees its organization only")
def boards_of_gateway_agent(t, ctx):
    fleet = Fleet(ctx.db)
    older = create_board(ctx.db, fleet.organization_id, fleet.gateway_id, "Older board", age_s=60)
    newer = create_board(ctx.db, fleet.organization_id, fleet.gateway_id, "Newer board", age_s=-60)
    other_organization = create_organization(ctx.db, "Another organization")
    other_gateway = create_gateway(ctx.db, other_organization)
    create_board(ctx.db, other_organization, other_gateway, "Foreign board")
    _, token = fleet.agent(gateway_level=True)

    body = eventually_ok(t, BOARDS, token).json()
    expected = [board_json(ctx.db, board_id) for board_id in (newer, fleet.board_id, older)]
    expect_equal(body["total"], 3, "total")
    expect_equal([item["id"] for item in body["items"]], [item["id"] for item in expected],
                 "board ids, newest first")
    expect_equal(body["items"], expected, "items")

    page = get(t, BOARDS + "?limit=2&offset=1", token=token).json()
    expect_equal([item["id"] for item in page["items"]], [fleet.board_id, older], "second page ids")
    expect_equal((page["total"], page["limit"], page["offset"]), (3, 2, 1), "total, limit, offset")

    past_end = get(t, BOARDS + "?offset=10", token=token).json()
    expect_equal((past_end["items"], past_end["total"]), ([], 3), "items and total past the end")

    decoded = get(t, BOARDS + "?limit=%32&offset=0&limit=1", token=token).json()
    expect_equal(decoded["limit"], 1, "limit given twice: the last one counts")


@MODULE.both("boards rejects bad paging")
def boards_bad_paging(t, ctx):
    fleet = Fleet(ctx.db)
    _, token = fleet.agent()
    eventually_ok(t, HEALTHZ, token)
    for query, detail in (("limit=0", "limit must be a whole number from 1 to 200."),
                          ("limit=201", "limit must be a whole number from 1 to 200."),
                          ("limit=abc", "limit must be a whole number from 1 to 200."),
                          ("limit=", "limit must be a whole number from 1 to 200."),
                          ("limit=-1", "limit must be a whole number from 1 to 200."),
                          ("limit=%zz", "limit must be a whole number from 1 to 200."),
                          ("offset=-1", "offset must be a whole number of 0 or more."),
                          ("offset=1.5", "offset must be a whole number of 0 or more."),
                          ("offset=99999999999999999999", "offset must be a whole number of 0 or more.")):
        expect_error(get(t, f"{BOARDS}?{query}", token=token), 422, detail)


@MODULE.both("boards of a gone gateway answer 403")
def boards_gateway_gone(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent(gateway_level=True)
    eventually_ok(t, HEALTHZ, token)
    remove_gateway(ctx.db, fleet.gateway_id)
    expect_error(get(t, BOARDS, token=token), 403, "Agent gateway not found.")
    expect_equal(get(t, HEALTHZ, token=token).json()["agent_id"], agent_id,
                 "healthz of the agent without gateway")


@MODULE.both("21st attempt in a window is 429")
def rate_limit(t, ctx):
    fleet = Fleet(ctx.db)
    _, token = fleet.agent()
    eventually_ok(t, HEALTHZ, token)
    client = "203.0.113.77"
    statuses = []
    for number in range(LIMIT):
        if number % 2 == 0:
            statuses.append(get(t, HEALTHZ, token=token, client=client).status)
        else:
            invalid = new_token()
            statuses.append(get(t, HEALTHZ, token=invalid, client=client).status)
            expect_invalid_token_logged(invalid, HEALTHZ)
    expect_equal(statuses, [200, 401] * (LIMIT // 2), "statuses of the first 20 attempts")

    for label, options in (("valid token", {"token": token}), ("no token", {}),
                           ("unknown token", {"token": new_token()})):
        response = get(t, HEALTHZ, client=client, **options)
        expect_error(response, 429, "Too many requests.")
        expect_retry_after(response, WINDOW_S)
    expect("rate limit exceeded for agent-auth:203.0.113.77" in response.log,
           "no log line for the refused attempt")
    expect_equal(get(t, HEALTHZ, token=token).status, 200, "status for another client")


@MODULE.both("other methods answer 405")
def other_methods(t, ctx):
    _, token = Fleet(ctx.db).agent()
    for method in ("POST", "PUT", "DELETE"):
        response = get(t, HEALTHZ, token=token, method=method)
        expect_error(response, 405, "Method Not Allowed")
        expect_equal(response.header("Allow"), "GET", "Allow")


@MODULE.cgi("unknown paths answer 404")
def unknown_paths(t, ctx):
    for path in ("/api/v1/agent/other", "/api/v1/agent/healthz/", "/api/v1/agent/boardsx", "/"):
        expect_error(get(t, path, token=new_token()), 404, "Not Found")
