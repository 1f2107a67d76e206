"""mc-edge-admin agent-token: mint, rotate and revoke, checked against the
stored rows and against agent-auth as plain CGI."""

from agent_harness import (BASE_ENV, HASH_PATTERN, HEALTHZ, Fleet, agent_row, create_agent,
                           expect_error, get, index_digest, index_key, index_rows, mint, new_id,
                           pbkdf2_runs, run_admin, upstream_verify)
from harness import expect, expect_equal
from suite import Module

MODULE = Module("admin tool", env=BASE_ENV)


def expect_token_stored(ctx, agent_id, token):
    stored = agent_row(ctx.db, agent_id)["agent_token_hash"]
    expect(HASH_PATTERN.match(stored or ""), f"stored hash has the wrong form: {stored!r}")
    expect(upstream_verify(token, stored), "upstream's check rejects the minted token")
    rows = index_rows(ctx.db, agent_id)
    expect_equal(len(rows), 1, "index rows of the agent")
    expect_equal(bytes(rows[0][0]), index_digest(index_key(ctx.db), token), "index digest")
    expect_equal(rows[0][1], stored, "index source_hash")


@MODULE.plain("mint stores hash and index entry")
def mint_token(ctx):
    fleet = Fleet(ctx.db)
    agent_id = create_agent(ctx.db, fleet.gateway_id, fleet.board_id)
    token = mint(ctx, agent_id)
    expect_token_stored(ctx, agent_id, token)
    response = get(ctx.cgi(), HEALTHZ, token=token)
    expect_equal(response.status, 200, "status of the minted token")
    expect_equal(pbkdf2_runs(response), 0, "PBKDF2 runs of the minted token")

    status, stdout, stderr = run_admin(ctx, "agent-token", "mint", agent_id)
    expect_equal(status, 1, "exit status of a second mint")
    expect_equal(stdout, "", "standard output of a second mint")
    expect("rotate" in stderr, f"the refusal does not point to rotate: {stderr.strip()!r}")


@MODULE.plain("rotate replaces the token")
def rotate_token(ctx):
    fleet = Fleet(ctx.db)
    agent_id, sql_token = fleet.agent()
    first = mint(ctx, agent_id, action="rotate")
    second = mint(ctx, agent_id, action="rotate")
    expect(first != second, "rotate printed the same token twice")
    expect_token_stored(ctx, agent_id, second)
    cgi = ctx.cgi()
    for old in (sql_token, first):
        expect_error(get(cgi, HEALTHZ, token=old), 401, "Invalid agent token.")
    expect_equal(get(cgi, HEALTHZ, token=second).status, 200, "status of the new token")


@MODULE.plain("revoke clears the token")
def revoke_token(ctx):
    fleet = Fleet(ctx.db)
    agent_id, _ = fleet.agent()
    token = mint(ctx, agent_id, action="rotate")
    status, stdout, stderr = run_admin(ctx, "agent-token", "revoke", agent_id)
    expect_equal(status, 0, f"exit status of revoke ({stderr.strip()})")
    expect_equal(agent_row(ctx.db, agent_id)["agent_token_hash"], None, "stored hash")
    expect_equal(index_rows(ctx.db, agent_id), [], "index rows")
    expect_error(get(ctx.cgi(), HEALTHZ, token=token), 401, "Invalid agent token.")

    status, _, _ = run_admin(ctx, "agent-token", "revoke", new_id())
    expect_equal(status, 1, "exit status of revoking an unknown agent")
    status, stdout, _ = run_admin(ctx, "agent-token", "rotate", new_id())
    expect_equal((status, stdout), (1, ""), "exit status and output of rotating an unknown agent")


@MODULE.plain("usage errors exit 2")
def usage_errors(ctx):
    for arguments in (("agent-token",), ("agent-token", "mint"), ("agent-token", "burn", new_id()),
                      ("agent-token", "mint", "not-a-uuid"),
                      ("agent-token", "mint", new_id(), "extra")):
        status, stdout, stderr = run_admin(ctx, *arguments)
        expect_equal(status, 2, f"exit status of {' '.join(arguments)}")
        expect_equal(stdout, "", f"standard output of {' '.join(arguments)}")
        expect("usage" in stderr or "not an agent id" in stderr,
               f"no usage text for {' '.join(arguments)}: {stderr.strip()!r}")
