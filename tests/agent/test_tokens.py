"""Token checks of agent-auth: upstream's stored hashes, the index, the legacy
pass, header parsing and the settings of the token code."""

import hashlib
import secrets

from agent_harness import (BASE_ENV, HEALTHZ, Fleet, b64url, eventually_ok, expect_error,
                           expect_invalid_token_logged, expect_security_headers, get,
                           index_digest, index_key, index_rows, mint, new_token, pbkdf2_runs,
                           upstream_hash)
from harness import LOGBOOK, CheckFailed, LighttpdServer, expect, expect_equal
from suite import Module

MODULE = Module("agent tokens", env=BASE_ENV)


@MODULE.both("upstream hash authenticates")
def upstream_hash_authenticates(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent()
    first = eventually_ok(t, HEALTHZ, token)
    expect_equal(first.json()["agent_id"], agent_id, "agent_id")
    expect(pbkdf2_runs(first) >= 1, "the first request found the token without a PBKDF2 run")

    rows = index_rows(ctx.db, agent_id)
    expect_equal(len(rows), 1, "index rows of the agent")
    digest, source_hash = rows[0]
    expect_equal(bytes(digest), index_digest(index_key(ctx.db), token), "index digest")
    expect_equal(source_hash, fleet.db.query("SELECT agent_token_hash FROM agents WHERE id = %s",
                                             (agent_id,))[0][0], "index source_hash")

    second = get(t, HEALTHZ, token=token)
    expect_equal(second.status, 200, "second request status")
    expect_equal(pbkdf2_runs(second), 0, "PBKDF2 runs of an indexed token")


@MODULE.both("bearer token authenticates")
def bearer_token(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent()
    eventually_ok(t, HEALTHZ, token)
    for value in (f"Bearer {token}", f"bearer {token}", f"BEARER   {token}  "):
        response = get(t, HEALTHZ, bearer=value)
        expect_equal(response.status, 200, f"status for Authorization {value[:8]!r}...")
        expect_equal(response.json()["agent_id"], agent_id, "agent_id")


@MODULE.both("conflicting tokens rejected")
def conflicting_tokens(t, ctx):
    fleet = Fleet(ctx.db)
    _, token = fleet.agent()
    eventually_ok(t, HEALTHZ, token)
    other = new_token()
    expect_error(get(t, HEALTHZ, token=token, bearer=f"Bearer {other}"), 401,
                 "Conflicting agent tokens.")
    expect_error(get(t, HEALTHZ, token=other, bearer=f"Bearer {token}"), 401,
                 "Conflicting agent tokens.")
    expect_equal(get(t, HEALTHZ, token=token, bearer=f"Bearer {token}").status, 200,
                 "status with the same token twice")
    # A non-Bearer Authorization header contains no agent token, so nothing conflicts.
    expect_equal(get(t, HEALTHZ, token=token, bearer="Basic dXNlcjpwYXNz").status, 200,
                 "status with X-Agent-Token and Basic credentials")


@MODULE.both("missing token rejected")
def missing_token(t, ctx):
    Fleet(ctx.db).agent()
    expect_error(get(t, HEALTHZ), 401, "Missing agent token.")
    expect_error(get(t, HEALTHZ, bearer="Basic dXNlcjpwYXNz"), 401, "Missing agent token.")
    expect_error(get(t, HEALTHZ, bearer="Bearer "), 401, "Missing agent token.")
    expect_error(get(t, HEALTHZ, bearer="Bearertoken"), 401, "Missing agent token.")


@MODULE.both("unknown token rejected and logged")
def unknown_token(t, ctx):
    Fleet(ctx.db).agent()
    token = new_token()
    response = get(t, HEALTHZ, token=token)
    expect_error(response, 401, "Invalid agent token.")
    expect_invalid_token_logged(token, HEALTHZ)
    expect(f"invalid agent token {token[:6]}... for {HEALTHZ}" in response.log,
           f"no log line with the token prefix in {response.log[-300:]!r}")

    short = "abc123"
    expect_error(get(t, HEALTHZ, token=short), 401, "Invalid agent token.")
    expect_invalid_token_logged(short, HEALTHZ)


@MODULE.both("long token rejected")
def long_token(t, ctx):
    Fleet(ctx.db).agent()
    token = secrets.token_urlsafe(300)
    LOGBOOK.add_secret(token)
    response = get(t, HEALTHZ, token=token)
    expect_error(response, 401, "Invalid agent token.")
    expect_equal(pbkdf2_runs(response), 0, "PBKDF2 runs for an overlong token")
    expect_invalid_token_logged(token, HEALTHZ)


@MODULE.both("hash change by SQL takes effect at once")
def hash_change(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, old_token = fleet.agent()
    eventually_ok(t, HEALTHZ, old_token)
    expect_equal(len(index_rows(ctx.db, agent_id)), 1, "index rows after the first success")

    new = new_token()
    ctx.db.query("UPDATE agents SET agent_token_hash = %s WHERE id = %s",
                 (upstream_hash(new), agent_id))
    expect_error(get(t, HEALTHZ, token=old_token), 401, "Invalid agent token.")
    eventually_ok(t, HEALTHZ, new)
    expect_error(get(t, HEALTHZ, token=old_token), 401, "Invalid agent token.")

    ctx.db.query("UPDATE agents SET agent_token_hash = NULL WHERE id = %s", (agent_id,))
    expect_error(get(t, HEALTHZ, token=new), 401, "Invalid agent token.")
    expect_invalid_token_logged(new, HEALTHZ)


@MODULE.both("token hashed again still authenticates")
def same_token_new_salt(t, ctx):
    fleet = Fleet(ctx.db)
    agent_id, token = fleet.agent()
    eventually_ok(t, HEALTHZ, token)
    # Upstream hashing the same token again gives a new salt and a new stored value.
    ctx.db.query("UPDATE agents SET agent_token_hash = %s WHERE id = %s",
                 (upstream_hash(token), agent_id))
    eventually_ok(t, HEALTHZ, token)
    rows = index_rows(ctx.db, agent_id)
    expect_equal(len(rows), 1, "index rows after the token was indexed again")


@MODULE.both("other algorithms never verify")
def other_algorithms(t, ctx):
    fleet = Fleet(ctx.db)
    salt = secrets.token_bytes(16)
    makers = (
        ("pbkdf2_sha1", lambda tok: upstream_hash(tok, salt=salt, algorithm="sha1",
                                                  name="pbkdf2_sha1")),
        ("500 iterations", lambda tok: upstream_hash(tok, iterations=500)),
        ("non-numeric iterations", lambda tok: upstream_hash(tok).replace("$200000$", "$2e5$")),
        ("five fields", lambda tok: upstream_hash(tok) + "$extra"),
        ("short digest", lambda tok: upstream_hash(tok).rsplit("$", 1)[0] + "$"
         + b64url(hashlib.sha256(tok.encode()).digest()[:16])),
        ("bad base64 salt", lambda tok: "$".join(
            "*" + part[1:] if position == 2 else part
            for position, part in enumerate(upstream_hash(tok).split("$")))),
        ("empty", lambda tok: ""),
    )
    cases = []
    for label, make in makers:
        token = new_token()
        fleet.agent(token=token, token_hash=make(token))
        cases.append((label, token))
    # With a scan above the number of agents, one request tries every hash.
    with ctx.variant(t, {"AGENT_TOKEN_LEGACY_SCAN": "16"}) as variant:
        for label, token in cases:
            response = get(variant, HEALTHZ, token=token)
            expect_equal(response.status, 401, f"status for a hash with {label}")
            expect_equal(pbkdf2_runs(response), 0, f"PBKDF2 runs for a hash with {label}")
    expect_equal(ctx.db.query("SELECT count(*) FROM edge_agent_token_index")[0][0], 0,
                 "index rows")


@MODULE.both("padded base64 and 1000 iterations verify")
def padded_hash(t, ctx):
    fleet = Fleet(ctx.db)
    token = new_token()
    agent_id, _ = fleet.agent(token=token)
    ctx.db.query("UPDATE agents SET agent_token_hash = %s WHERE id = %s",
                 (upstream_hash(token, iterations=1000, padded=True), agent_id))
    expect_equal(eventually_ok(t, HEALTHZ, token).json()["agent_id"], agent_id, "agent_id")


@MODULE.both("legacy pass bounded by its setting")
def legacy_pass_bounded(t, ctx):
    fleet = Fleet(ctx.db)
    agents = [fleet.agent() for _ in range(5)]
    # Random start and two candidates per request: the retries cover all five.
    for agent_id, token in agents:
        response = eventually_ok(t, HEALTHZ, token, timeout_s=20)
        expect_equal(response.json()["agent_id"], agent_id, "agent_id")
        expect(pbkdf2_runs(response) <= 2,
               f"{pbkdf2_runs(response)} PBKDF2 runs in one request, above AGENT_TOKEN_LEGACY_SCAN=2")
    unknown = get(t, HEALTHZ, token=new_token())
    expect_equal(unknown.status, 401, "status of an unknown token")
    expect_equal(pbkdf2_runs(unknown), 0, "PBKDF2 runs once every agent is indexed")


@MODULE.both("unindexed unknown tokens cost at most the scan")
def unknown_token_cost(t, ctx):
    fleet = Fleet(ctx.db)
    for _ in range(4):
        fleet.agent()
    for _ in range(3):
        response = get(t, HEALTHZ, token=new_token())
        expect_equal(response.status, 401, "status of an unknown token")
        runs = pbkdf2_runs(response)
        expect(runs <= 2, f"{runs} PBKDF2 runs in one request, above AGENT_TOKEN_LEGACY_SCAN=2")


@MODULE.both("legacy scan 0 ignores unindexed agents")
def legacy_scan_zero(t, ctx):
    fleet = Fleet(ctx.db)
    with ctx.variant(t, {"AGENT_TOKEN_LEGACY_SCAN": "0"}) as variant:
        _, sql_token = fleet.agent()
        response = get(variant, HEALTHZ, token=sql_token)
        expect_error(response, 401, "Invalid agent token.")
        expect_equal(pbkdf2_runs(response), 0, "PBKDF2 runs with the legacy pass off")
        minted_agent, _ = fleet.agent()
        token = mint(ctx, minted_agent, action="rotate")
        expect_equal(get(variant, HEALTHZ, token=token).status, 200, "status of a minted token")


@MODULE.both("index key from the environment")
def index_key_from_environment(t, ctx):
    key = secrets.token_hex(32)
    fleet = Fleet(ctx.db)
    agent_id, _ = fleet.agent()
    token = mint(ctx, agent_id, action="rotate", env={"AGENT_TOKEN_INDEX_KEY": key})
    digest = bytes(index_rows(ctx.db, agent_id)[0][0])
    expect_equal(digest, index_digest(key.encode(), token), "index digest under the variable's key")
    with ctx.variant(t, {"AGENT_TOKEN_INDEX_KEY": key}) as variant:
        response = get(variant, HEALTHZ, token=token)
        expect_equal(response.status, 200, "status")
        expect_equal(pbkdf2_runs(response), 0, "PBKDF2 runs")


@MODULE.cgi("invalid settings answer 500")
def invalid_settings(t, ctx):
    for name, value in (("AGENT_TOKEN_LEGACY_SCAN", "abc"), ("AGENT_TOKEN_LEGACY_SCAN", "65"),
                        ("AGENT_TOKEN_LEGACY_SCAN", "-1"), ("AGENT_TOKEN_INDEX_KEY", "short"),
                        ("EDGE_BENCH_COUNTERS", "yes")):
        response = get(ctx.cgi({name: value}), HEALTHZ, token=new_token())
        expect_error(response, 500, "Server misconfigured")
        expect(name in response.log, f"the log does not name {name}: {response.log[-300:]!r}")


@MODULE.plain("invalid setting stops FastCGI processes")
def invalid_setting_stops_fastcgi(ctx):
    server = LighttpdServer(ctx.root, ctx.binary, ctx.db.url,
                            dict(BASE_ENV, AGENT_TOKEN_LEGACY_SCAN="many"), label="bad setting")
    # lighttpd 1.4.69 keeps running when a FastCGI process exits at start
    # (unless it exits within lighttpd's first check) and responds with its
    # own error page: 503 once it has marked the pool down, 500 before that.
    try:
        server.start()
        response = get(server, HEALTHZ, token=new_token())
        expect(response.status in (500, 503), f"status from lighttpd: {response.describe()}")
        # lighttpd's own pages are JSON too (errors/), but only the programs
        # send Cache-Control: no-store.
        expect(response.header("Cache-Control") is None,
               f"a FastCGI process answered: {response.describe()}")
    except CheckFailed as failure:
        expect("exited" in str(failure), f"lighttpd failed for another reason: {failure}")
    finally:
        problems = server.stop()
    expect("AGENT_TOKEN_LEGACY_SCAN must be a whole number" in server.log_text(),
           "no log line names AGENT_TOKEN_LEGACY_SCAN")
    expect(not any("sanitizer" in problem for problem in problems), f"{problems}")


@MODULE.cgi("store failure answers 503")
def store_failure(t, ctx):
    unreachable = "postgresql://edge@/edge?host=/nonexistent-socket-folder"
    for backend in ("postgres", "memory"):
        response = get(ctx.cgi({"DATABASE_URL": unreachable, "RATE_LIMIT_BACKEND": backend}),
                       HEALTHZ, token=new_token())
        expect_equal(response.status, 503, f"status with RATE_LIMIT_BACKEND={backend}")
        expect_equal(response.header("Retry-After"), "5", "Retry-After")
        expect_security_headers(response)
