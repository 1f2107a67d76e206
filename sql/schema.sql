-- Database schema of mc-edge.
--
-- Run as the owner of the database (no superuser, no extension):
--   psql -v ON_ERROR_STOP=1 -f sql/schema.sql
--
-- Two kinds of tables live here:
--
-- * Mission Control's own tables, with the names, columns and types of the
--   upstream Python project (openclaw-mission-control, backend/app/models and
--   its Alembic migrations): ids are uuid, timestamps are timestamp without
--   time zone holding UTC, JSON columns are json, strings are varchar. As
--   upstream, their ids and timestamps have no server default, so every
--   INSERT must supply them. Columns that upstream declares NOT NULL and that
--   this suite never writes get a server default equal to upstream's
--   application default, so that rows written by the suite or by test fixtures
--   stay valid.
--
-- * Tables of the suite itself. Every one of them is named with the prefix
--   "edge_". No table in upstream's models or migrations starts with it, so
--   the suite's tables do not collide with upstream's.
--
-- The script is idempotent and safe on a database that upstream already
-- manages: it creates missing tables, adds missing columns that the suite
-- uses, and adds a constraint or index only when no equivalent exists under
-- any name. It never drops or changes an existing column, constraint or
-- index. Everything runs in one transaction, so a failure leaves the database
-- as it was.
--
-- NOTE: an index that is missing on a populated upstream table is built with
-- plain CREATE INDEX, which blocks writes to that table while it builds.

BEGIN;

-- Serialize concurrent runs, because CREATE TABLE IF NOT EXISTS fails when
-- another session creates the same table at the same moment.
DO $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('mc-edge sql/schema.sql', 0));
END
$$;

-- Hide the "already exists, skipping" notices of a rerun. Warnings and errors
-- still show.
SET LOCAL client_min_messages = warning;


-- ---------------------------------------------------------------------------
-- Upstream tables
-- ---------------------------------------------------------------------------
-- Foreign keys, unique constraints and indexes follow the tables, in two
-- blocks that check for existing equivalents first.

CREATE TABLE IF NOT EXISTS organizations (
    id uuid NOT NULL PRIMARY KEY,
    name varchar NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    id uuid NOT NULL PRIMARY KEY,
    clerk_user_id varchar NOT NULL,
    email varchar,
    name varchar,
    preferred_name varchar,
    pronouns varchar,
    timezone varchar,
    notes varchar,
    context varchar,
    is_super_admin boolean NOT NULL,
    active_organization_id uuid
);

CREATE TABLE IF NOT EXISTS organization_members (
    id uuid NOT NULL PRIMARY KEY,
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role varchar NOT NULL,
    all_boards_read boolean NOT NULL,
    all_boards_write boolean NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS gateways (
    id uuid NOT NULL PRIMARY KEY,
    organization_id uuid NOT NULL,
    name varchar NOT NULL,
    url varchar NOT NULL,
    token varchar,
    disable_device_pairing boolean NOT NULL,
    workspace_root varchar NOT NULL,
    allow_insecure_tls boolean NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

-- Columns after gateway_id are upstream's goal and workflow settings, which
-- the suite only reads back. Upstream's board_group_id references
-- board_groups, a table outside this schema, so that foreign key is left out.
CREATE TABLE IF NOT EXISTS boards (
    id uuid NOT NULL PRIMARY KEY,
    organization_id uuid NOT NULL,
    name varchar NOT NULL,
    slug varchar NOT NULL,
    description varchar NOT NULL,
    gateway_id uuid,
    board_group_id uuid,
    board_type varchar NOT NULL DEFAULT 'goal',
    objective varchar,
    success_metrics json,
    target_date timestamp without time zone,
    goal_confirmed boolean NOT NULL DEFAULT false,
    goal_source varchar,
    require_approval_for_done boolean NOT NULL DEFAULT true,
    require_review_before_done boolean NOT NULL DEFAULT false,
    comment_required_for_review boolean NOT NULL DEFAULT false,
    block_status_changes_with_pending_approval boolean NOT NULL DEFAULT false,
    only_lead_can_change_status boolean NOT NULL DEFAULT false,
    max_agents integer NOT NULL DEFAULT 1,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS organization_board_access (
    id uuid NOT NULL PRIMARY KEY,
    organization_member_id uuid NOT NULL,
    board_id uuid NOT NULL,
    can_read boolean NOT NULL,
    can_write boolean NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

-- board_id NULL marks a gateway-level "main" agent. The text columns are
-- text, not varchar, as upstream declares them.
CREATE TABLE IF NOT EXISTS agents (
    id uuid NOT NULL PRIMARY KEY,
    board_id uuid,
    gateway_id uuid NOT NULL,
    name varchar NOT NULL,
    status varchar NOT NULL,
    openclaw_session_id varchar,
    agent_token_hash varchar,
    heartbeat_config json,
    identity_profile json,
    identity_template text,
    soul_template text,
    provision_requested_at timestamp without time zone,
    provision_confirm_token_hash varchar,
    provision_action varchar,
    delete_requested_at timestamp without time zone,
    delete_confirm_token_hash varchar,
    last_seen_at timestamp without time zone,
    lifecycle_generation integer NOT NULL DEFAULT 0,
    wake_attempts integer NOT NULL DEFAULT 0,
    last_wake_sent_at timestamp without time zone,
    checkin_deadline_at timestamp without time zone,
    last_provision_error text,
    is_board_lead boolean NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS board_webhooks (
    id uuid NOT NULL PRIMARY KEY,
    board_id uuid NOT NULL,
    agent_id uuid,
    description varchar NOT NULL,
    enabled boolean NOT NULL,
    secret varchar,
    signature_header varchar,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS board_webhook_payloads (
    id uuid NOT NULL PRIMARY KEY,
    board_id uuid NOT NULL,
    webhook_id uuid NOT NULL,
    payload json,
    headers json,
    source_ip varchar,
    content_type varchar,
    received_at timestamp without time zone NOT NULL
);

-- tags is a JSON array of strings.
CREATE TABLE IF NOT EXISTS board_memory (
    id uuid NOT NULL PRIMARY KEY,
    board_id uuid NOT NULL,
    content varchar NOT NULL,
    tags json,
    is_chat boolean NOT NULL,
    source varchar,
    created_at timestamp without time zone NOT NULL
);

-- Columns that the suite uses and that upstream added after its first
-- release, so an older upstream database may lack them. On such a database a
-- NOT NULL column is added with the default that upstream's own migration
-- used for existing rows, and the default stays.
-- NOTE: agents.gateway_id is added as nullable here because no default can
-- name a gateway. Upstream declares it NOT NULL.
ALTER TABLE gateways
    ADD COLUMN IF NOT EXISTS disable_device_pairing boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS allow_insecure_tls boolean NOT NULL DEFAULT false;
ALTER TABLE boards
    ADD COLUMN IF NOT EXISTS description varchar NOT NULL DEFAULT '';
ALTER TABLE agents
    ADD COLUMN IF NOT EXISTS gateway_id uuid;
ALTER TABLE board_webhooks
    ADD COLUMN IF NOT EXISTS agent_id uuid,
    ADD COLUMN IF NOT EXISTS secret varchar,
    ADD COLUMN IF NOT EXISTS signature_header varchar;

-- Foreign keys. Names are PostgreSQL's defaults (<table>_<column>_fkey), which
-- upstream's migrations got by not naming them, except the two that upstream
-- names itself. A key is added only when no foreign key from that column to
-- that table exists under any name. Rows that already break a new key make it
-- NOT VALID (checked for new rows only) with a warning, so that upstream's
-- data never stops this script.
DO $$
DECLARE
    spec record;
BEGIN
    FOR spec IN
        SELECT *
        FROM (VALUES
            ('users', 'users_active_organization_id_fkey', 'active_organization_id', 'organizations'),
            ('organization_members', 'organization_members_organization_id_fkey', 'organization_id', 'organizations'),
            ('organization_members', 'organization_members_user_id_fkey', 'user_id', 'users'),
            ('gateways', 'gateways_organization_id_fkey', 'organization_id', 'organizations'),
            ('boards', 'boards_organization_id_fkey', 'organization_id', 'organizations'),
            ('boards', 'boards_gateway_id_fkey', 'gateway_id', 'gateways'),
            ('organization_board_access', 'organization_board_access_organization_member_id_fkey', 'organization_member_id', 'organization_members'),
            ('organization_board_access', 'organization_board_access_board_id_fkey', 'board_id', 'boards'),
            ('agents', 'agents_board_id_fkey', 'board_id', 'boards'),
            ('agents', 'fk_agents_gateway_id_gateways', 'gateway_id', 'gateways'),
            ('board_webhooks', 'board_webhooks_board_id_fkey', 'board_id', 'boards'),
            ('board_webhooks', 'fk_board_webhooks_agent_id_agents', 'agent_id', 'agents'),
            ('board_webhook_payloads', 'board_webhook_payloads_board_id_fkey', 'board_id', 'boards'),
            ('board_webhook_payloads', 'board_webhook_payloads_webhook_id_fkey', 'webhook_id', 'board_webhooks'),
            ('board_memory', 'board_memory_board_id_fkey', 'board_id', 'boards')
        ) AS specs (table_name, constraint_name, column_name, referenced_table)
    LOOP
        CONTINUE WHEN EXISTS (
            SELECT 1
            FROM pg_constraint c
            JOIN pg_attribute a
                ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
            WHERE c.contype = 'f'
              AND c.conrelid = to_regclass(spec.table_name)
              AND c.confrelid = to_regclass(spec.referenced_table)
              AND cardinality(c.conkey) = 1
              AND a.attname = spec.column_name
        );
        -- A constraint of that name but another meaning: leave it alone.
        CONTINUE WHEN EXISTS (
            SELECT 1
            FROM pg_constraint c
            WHERE c.conrelid = to_regclass(spec.table_name)
              AND c.conname = spec.constraint_name
        );

        BEGIN
            EXECUTE format(
                'ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %I (id)',
                spec.table_name, spec.constraint_name,
                spec.column_name, spec.referenced_table);
        EXCEPTION WHEN foreign_key_violation THEN
            RAISE WARNING 'existing rows of %.% reference missing % rows; adding % as NOT VALID',
                spec.table_name, spec.column_name, spec.referenced_table, spec.constraint_name;
            EXECUTE format(
                'ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %I (id) NOT VALID',
                spec.table_name, spec.constraint_name,
                spec.column_name, spec.referenced_table);
        END;
    END LOOP;
END
$$;

-- Unique constraints and indexes, named as upstream names them (its unique
-- constraints carry explicit names, its indexes follow SQLAlchemy's
-- ix_<table>_<column>). A plain index is skipped when a valid index with no
-- predicate and no expression already starts with the same columns. A unique
-- one is skipped when a unique index exists on exactly that set of columns.
-- An index on a column that the table lacks is skipped too.
-- Single-column entries come before the composites that start with the same
-- column, so that an empty database gets every one of upstream's indexes.
DO $$
DECLARE
    spec record;
    found boolean;
BEGIN
    FOR spec IN
        SELECT *
        FROM (VALUES
            ('organizations', 'ix_organizations_name', ARRAY['name'], 'index'),
            ('users', 'ix_users_clerk_user_id', ARRAY['clerk_user_id'], 'unique index'),
            ('users', 'ix_users_email', ARRAY['email'], 'index'),
            ('users', 'ix_users_active_organization_id', ARRAY['active_organization_id'], 'index'),
            ('organization_members', 'ix_organization_members_organization_id', ARRAY['organization_id'], 'index'),
            ('organization_members', 'ix_organization_members_user_id', ARRAY['user_id'], 'index'),
            ('organization_members', 'ix_organization_members_role', ARRAY['role'], 'index'),
            ('organization_members', 'uq_organization_members_org_user', ARRAY['organization_id', 'user_id'], 'unique constraint'),
            ('organization_board_access', 'ix_organization_board_access_organization_member_id', ARRAY['organization_member_id'], 'index'),
            ('organization_board_access', 'ix_organization_board_access_board_id', ARRAY['board_id'], 'index'),
            ('organization_board_access', 'uq_org_board_access_member_board', ARRAY['organization_member_id', 'board_id'], 'unique constraint'),
            ('gateways', 'ix_gateways_organization_id', ARRAY['organization_id'], 'index'),
            ('boards', 'ix_boards_organization_id', ARRAY['organization_id'], 'index'),
            ('boards', 'ix_boards_slug', ARRAY['slug'], 'index'),
            ('boards', 'ix_boards_gateway_id', ARRAY['gateway_id'], 'index'),
            ('boards', 'ix_boards_board_group_id', ARRAY['board_group_id'], 'index'),
            ('boards', 'ix_boards_board_type', ARRAY['board_type'], 'index'),
            ('agents', 'ix_agents_board_id', ARRAY['board_id'], 'index'),
            ('agents', 'ix_agents_gateway_id', ARRAY['gateway_id'], 'index'),
            ('agents', 'ix_agents_name', ARRAY['name'], 'index'),
            ('agents', 'ix_agents_status', ARRAY['status'], 'index'),
            ('agents', 'ix_agents_openclaw_session_id', ARRAY['openclaw_session_id'], 'index'),
            ('agents', 'ix_agents_agent_token_hash', ARRAY['agent_token_hash'], 'index'),
            ('agents', 'ix_agents_provision_confirm_token_hash', ARRAY['provision_confirm_token_hash'], 'index'),
            ('agents', 'ix_agents_provision_action', ARRAY['provision_action'], 'index'),
            ('agents', 'ix_agents_delete_confirm_token_hash', ARRAY['delete_confirm_token_hash'], 'index'),
            ('agents', 'ix_agents_is_board_lead', ARRAY['is_board_lead'], 'index'),
            ('board_webhooks', 'ix_board_webhooks_board_id', ARRAY['board_id'], 'index'),
            ('board_webhooks', 'ix_board_webhooks_agent_id', ARRAY['agent_id'], 'index'),
            ('board_webhooks', 'ix_board_webhooks_enabled', ARRAY['enabled'], 'index'),
            ('board_webhook_payloads', 'ix_board_webhook_payloads_board_id', ARRAY['board_id'], 'index'),
            ('board_webhook_payloads', 'ix_board_webhook_payloads_webhook_id', ARRAY['webhook_id'], 'index'),
            ('board_webhook_payloads', 'ix_board_webhook_payloads_received_at', ARRAY['received_at'], 'index'),
            -- Serves lookups by (board_id, webhook_id) through its prefix.
            ('board_webhook_payloads', 'ix_board_webhook_payloads_board_webhook_received_at', ARRAY['board_id', 'webhook_id', 'received_at'], 'index'),
            ('board_memory', 'ix_board_memory_board_id', ARRAY['board_id'], 'index'),
            ('board_memory', 'ix_board_memory_is_chat', ARRAY['is_chat'], 'index'),
            ('board_memory', 'ix_board_memory_board_id_is_chat_created_at', ARRAY['board_id', 'is_chat', 'created_at'], 'index')
        ) AS specs (table_name, index_name, column_names, kind)
    LOOP
        -- An older upstream table may lack a column that the suite never
        -- uses. Such an index is left to upstream's migrations.
        CONTINUE WHEN EXISTS (
            SELECT 1
            FROM unnest(spec.column_names) AS wanted (name)
            WHERE NOT EXISTS (
                SELECT 1
                FROM pg_attribute a
                WHERE a.attrelid = to_regclass(spec.table_name)
                  AND a.attname = wanted.name
                  AND NOT a.attisdropped
            )
        );

        SELECT EXISTS (
            SELECT 1
            FROM pg_index i
            CROSS JOIN LATERAL (
                SELECT array_agg(a.attname::text ORDER BY k.position) AS names
                FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, position)
                JOIN pg_attribute a
                    ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                WHERE k.position <= i.indnkeyatts
            ) AS key_columns
            WHERE i.indrelid = to_regclass(spec.table_name)
              AND i.indisvalid
              AND i.indpred IS NULL
              AND i.indexprs IS NULL
              AND CASE
                  WHEN spec.kind = 'index' THEN
                      key_columns.names[1:cardinality(spec.column_names)] = spec.column_names
                  ELSE
                      i.indisunique
                      AND cardinality(key_columns.names) = cardinality(spec.column_names)
                      AND key_columns.names @> spec.column_names
                  END
        ) INTO found;
        CONTINUE WHEN found;

        -- A relation or constraint of that name but another meaning: leave it
        -- alone rather than fail.
        CONTINUE WHEN to_regclass(spec.index_name) IS NOT NULL;
        CONTINUE WHEN EXISTS (
            SELECT 1
            FROM pg_constraint c
            WHERE c.conrelid = to_regclass(spec.table_name)
              AND c.conname = spec.index_name
        );

        IF spec.kind = 'unique constraint' THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE (%s)',
                spec.table_name, spec.index_name,
                (SELECT string_agg(quote_ident(n), ', ') FROM unnest(spec.column_names) AS n));
        ELSE
            EXECUTE format('CREATE %s INDEX %I ON %I (%s)',
                CASE WHEN spec.kind = 'unique index' THEN 'UNIQUE' ELSE '' END,
                spec.index_name, spec.table_name,
                (SELECT string_agg(quote_ident(n), ', ') FROM unnest(spec.column_names) AS n));
        END IF;
    END LOOP;
END
$$;


-- ---------------------------------------------------------------------------
-- Tables of the suite (prefix edge_)
-- ---------------------------------------------------------------------------

-- Versions of this schema that have been applied to the database.
CREATE TABLE IF NOT EXISTS edge_schema_version (
    version integer PRIMARY KEY,
    applied_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
INSERT INTO edge_schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;

-- Exact bytes of webhook bodies that were not valid UTF-8. The payload row
-- stores such a body as a JSON string with U+FFFD in place of each bad
-- sequence.
CREATE TABLE IF NOT EXISTS edge_webhook_raw_body (
    payload_id uuid PRIMARY KEY
        REFERENCES board_webhook_payloads (id) ON DELETE CASCADE,
    body bytea NOT NULL
);

-- Agent notifications of stored webhook payloads, one row per payload,
-- written in the transaction that stores the payload. A dispatcher claims due
-- rows (state 'pending', next_attempt_at passed) with FOR UPDATE SKIP LOCKED.
-- board_id and webhook_id are copies from the payload, without foreign keys,
-- so the dispatcher needs no join. Each writer sets updated_at itself,
-- because no trigger maintains it.
CREATE TABLE IF NOT EXISTS edge_notification_outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    payload_id uuid NOT NULL UNIQUE
        REFERENCES board_webhook_payloads (id) ON DELETE CASCADE,
    board_id uuid NOT NULL,
    webhook_id uuid NOT NULL,
    state varchar NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'closed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    last_error varchar,
    created_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX IF NOT EXISTS ix_edge_notification_outbox_pending_next_attempt_at
    ON edge_notification_outbox (next_attempt_at)
    WHERE state = 'pending';

-- Delivery columns. They were added after the first release of this table,
-- so a database made by that release gets them here. A dispatcher claims a
-- row by setting state 'sending', a fresh claim_id and lease_until, commits,
-- sends outside any transaction, and records the outcome only while claim_id
-- still matches. A 'sending' row whose lease has passed belongs to a
-- dispatcher that died mid-send, so it is claimed again and sent with the
-- same idempotency key (the payload id).
--   claimed_by       host and process id of the dispatcher of the latest claim
--   claim_id         token of the latest claim. Only the latest claim may
--                    record an outcome
--   lease_until      until then no other dispatcher takes a 'sending' row
--   last_attempt_at  start of the latest send attempt, which the per-session
--                    throttle counts
--   last_outcome     outcome of the latest attempt or decision: sent,
--                    unreachable, timeout, refused, protocol, local,
--                    throttled, released, closed, dead
--   sent_at          when the gateway accepted the message
--   gateway_answer   run status in the gateway's reply to chat.send (started,
--                    in_flight), or "earlier run <status>" when the gateway
--                    rejected a resend and named the key's earlier run
--   session_key, agent_id, gateway_id
--                    the target resolved at the latest claim (no foreign
--                    keys, because the row outlives a deleted agent or
--                    gateway)
--   retried_at       when an operator last put the row back to pending
--                    (mc-edge-admin notifications retry); the retry span
--                    runs from here instead of created_at
ALTER TABLE edge_notification_outbox
    ADD COLUMN IF NOT EXISTS claimed_by varchar,
    ADD COLUMN IF NOT EXISTS claim_id uuid,
    ADD COLUMN IF NOT EXISTS lease_until timestamp without time zone,
    ADD COLUMN IF NOT EXISTS last_attempt_at timestamp without time zone,
    ADD COLUMN IF NOT EXISTS last_outcome varchar,
    ADD COLUMN IF NOT EXISTS sent_at timestamp without time zone,
    ADD COLUMN IF NOT EXISTS gateway_answer varchar,
    ADD COLUMN IF NOT EXISTS session_key varchar,
    ADD COLUMN IF NOT EXISTS agent_id uuid,
    ADD COLUMN IF NOT EXISTS gateway_id uuid,
    ADD COLUMN IF NOT EXISTS retried_at timestamp without time zone;

-- Partial indexes whose predicates a freshly stored row ('pending', no
-- session yet) never meets, so webhook-ingest pays nothing for them.
CREATE INDEX IF NOT EXISTS ix_edge_notification_outbox_sending_lease_until
    ON edge_notification_outbox (lease_until)
    WHERE state = 'sending';
CREATE INDEX IF NOT EXISTS ix_edge_notification_outbox_session_key_last_attempt_at
    ON edge_notification_outbox (session_key, last_attempt_at)
    WHERE session_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_edge_notification_outbox_dead_updated_at
    ON edge_notification_outbox (updated_at)
    WHERE state = 'dead';

-- Claims up to p_batch due rows for the dispatcher p_claimed_by, in one
-- short transaction. Rows whose lease expired come first, then pending rows
-- whose next_attempt_at has passed. Each is locked with FOR UPDATE SKIP
-- LOCKED, so concurrent dispatchers never take the same row. For each row it
-- resolves the target as of now: the webhook's agent_id when that agent is
-- on the board, else the board's lead agent (the oldest one when there are
-- several), and the board's gateway. Every row comes back once, with action:
--   send       claimed: state 'sending', lease p_lease_ms, attempts + 1, and
--              everything the message and the gateway exchange need
--   closed     no target (reason names the missing part): state 'closed'
--   dead       a lease expired after the row's retry span (p_span_ms from
--              retried_at, else created_at) had passed: state 'dead'
--   throttled  its session already had p_throttle_count attempts within
--              p_throttle_window_ms, so the row is due again when the oldest
--              of them leaves the window, attempts unchanged
-- p_throttle_count 0 turns the throttle off. A transaction-level advisory
-- lock per session, taken in a fixed order, makes concurrent claims for one
-- session count each other's attempts without deadlocking.
CREATE OR REPLACE FUNCTION edge_outbox_claim(
    p_claimed_by varchar, p_batch integer, p_lease_ms bigint, p_span_ms bigint,
    p_throttle_count integer, p_throttle_window_ms bigint)
RETURNS TABLE (outbox_id uuid, claim_id uuid, action varchar, reason varchar,
               payload_id uuid, board_id uuid, webhook_id uuid, attempts integer,
               session_key varchar, agent_id uuid, gateway_id uuid,
               gateway_url varchar, gateway_token varchar,
               disable_device_pairing boolean, allow_insecure_tls boolean,
               board_name varchar, instruction text, payload text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    now_utc timestamp without time zone := clock_timestamp() AT TIME ZONE 'utc';
    lease interval := p_lease_ms * interval '1 millisecond';
    throttle_window interval := p_throttle_window_ms * interval '1 millisecond';
    ids uuid[];
    r record;
    locked_session varchar;
    recent integer;
    free_at timestamp without time zone;
BEGIN
    ids := ARRAY(
        SELECT o.id FROM edge_notification_outbox AS o
        WHERE o.state = 'sending' AND o.lease_until <= now_utc
        ORDER BY o.lease_until
        LIMIT p_batch
        FOR UPDATE SKIP LOCKED);
    IF cardinality(ids) < p_batch THEN
        ids := ids || ARRAY(
            SELECT o.id FROM edge_notification_outbox AS o
            WHERE o.state = 'pending' AND o.next_attempt_at <= now_utc
            ORDER BY o.next_attempt_at
            LIMIT p_batch - cardinality(ids)
            FOR UPDATE SKIP LOCKED);
    END IF;

    FOR r IN
        SELECT o.id, o.payload_id, o.board_id, o.webhook_id, o.attempts,
               o.state, coalesce(o.retried_at, o.created_at) AS span_start,
               o.next_attempt_at,
               b.id IS NOT NULL AS board_found, b.name AS board_name,
               b.gateway_id AS board_gateway_id,
               g.id AS gateway_found_id, g.url, g.token,
               g.disable_device_pairing, g.allow_insecure_tls,
               w.description, t.id AS target_agent_id, t.openclaw_session_id,
               p.id IS NOT NULL AS payload_found
        FROM edge_notification_outbox AS o
        LEFT JOIN boards AS b ON b.id = o.board_id
        LEFT JOIN gateways AS g ON g.id = b.gateway_id
        LEFT JOIN board_webhooks AS w ON w.id = o.webhook_id
        LEFT JOIN board_webhook_payloads AS p ON p.id = o.payload_id
        LEFT JOIN LATERAL (
            SELECT a.id, a.openclaw_session_id FROM agents AS a
            WHERE a.board_id = o.board_id
              AND (a.id = w.agent_id OR a.is_board_lead)
            ORDER BY coalesce(a.id = w.agent_id, false) DESC, a.created_at, a.id
            LIMIT 1) AS t ON true
        WHERE o.id = ANY (ids)
        -- Every claim takes the session advisory locks in session_key order,
        -- so two claims cannot wait for each other's locks in a cycle. Row
        -- locks cannot form one either, because SKIP LOCKED never waits.
        ORDER BY t.openclaw_session_id NULLS FIRST, o.next_attempt_at
    LOOP
        outbox_id := r.id;
        payload_id := r.payload_id;
        board_id := r.board_id;
        webhook_id := r.webhook_id;
        attempts := r.attempts;
        claim_id := NULL;
        reason := NULL;
        session_key := NULLIF(r.openclaw_session_id, '');
        agent_id := r.target_agent_id;
        gateway_id := r.gateway_found_id;
        gateway_url := NULL;
        gateway_token := NULL;
        disable_device_pairing := NULL;
        allow_insecure_tls := NULL;
        board_name := NULL;
        instruction := NULL;
        payload := NULL;

        reason := CASE
            WHEN NOT r.board_found THEN 'board no longer exists'
            WHEN r.board_gateway_id IS NULL THEN 'board has no gateway'
            WHEN r.gateway_found_id IS NULL THEN 'gateway of the board no longer exists'
            WHEN r.target_agent_id IS NULL THEN 'board has no lead agent'
            WHEN session_key IS NULL THEN 'target agent has no session'
            WHEN NOT r.payload_found THEN 'payload no longer exists'
        END;
        IF reason IS NOT NULL THEN
            action := 'closed';
            UPDATE edge_notification_outbox AS o SET
                state = 'closed', last_outcome = 'closed', last_error = reason,
                lease_until = NULL, agent_id = r.target_agent_id,
                session_key = NULLIF(r.openclaw_session_id, ''),
                gateway_id = r.gateway_found_id, updated_at = now_utc
            WHERE o.id = r.id;
            RETURN NEXT;
            CONTINUE;
        END IF;

        IF r.state = 'sending' AND now_utc >= r.span_start + p_span_ms * interval '1 millisecond' THEN
            action := 'dead';
            reason := 'dispatcher stopped during the send, and the retry span has passed';
            UPDATE edge_notification_outbox AS o SET
                state = 'dead', last_outcome = 'dead', last_error = reason,
                lease_until = NULL, updated_at = now_utc
            WHERE o.id = r.id;
            RETURN NEXT;
            CONTINUE;
        END IF;

        IF p_throttle_count > 0 THEN
            IF locked_session IS DISTINCT FROM session_key THEN
                PERFORM pg_advisory_xact_lock(
                    hashtextextended('edge_outbox_session:' || session_key, 0));
                locked_session := session_key;
            END IF;
            SELECT count(*), min(recent_attempts.last_attempt_at)
            INTO recent, free_at
            FROM (
                SELECT x.last_attempt_at FROM edge_notification_outbox AS x
                WHERE x.session_key = r.openclaw_session_id
                  AND x.last_attempt_at > now_utc - throttle_window
                  AND x.id <> r.id
                ORDER BY x.last_attempt_at DESC
                LIMIT p_throttle_count) AS recent_attempts;
            IF recent >= p_throttle_count THEN
                action := 'throttled';
                free_at := free_at + throttle_window;
                reason := 'session throttled until ' || free_at::text || ' UTC';
                UPDATE edge_notification_outbox AS o SET
                    state = 'pending', next_attempt_at = free_at,
                    last_outcome = 'throttled', lease_until = NULL,
                    updated_at = now_utc
                WHERE o.id = r.id;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;

        action := 'send';
        claim_id := gen_random_uuid();
        attempts := r.attempts + 1;
        gateway_url := r.url;
        gateway_token := r.token;
        disable_device_pairing := r.disable_device_pairing;
        allow_insecure_tls := r.allow_insecure_tls;
        board_name := r.board_name;
        instruction := r.description;
        -- Only a row that is sent needs its payload, which may be 1 MiB of
        -- text, so closed and throttled rows never read it.
        SELECT bp.payload::text INTO payload
        FROM board_webhook_payloads AS bp WHERE bp.id = r.payload_id;
        UPDATE edge_notification_outbox AS o SET
            state = 'sending', claim_id = edge_outbox_claim.claim_id,
            claimed_by = p_claimed_by, lease_until = now_utc + lease,
            last_attempt_at = now_utc, attempts = r.attempts + 1,
            session_key = r.openclaw_session_id, agent_id = r.target_agent_id,
            gateway_id = r.gateway_found_id, updated_at = now_utc
        WHERE o.id = r.id;
        RETURN NEXT;
    END LOOP;
END
$$;


-- Agent token index
-- Secrets the suite makes for itself, one row per name. The row
-- 'agent_token_index_key' is the HMAC key of the token index below, made once
-- from PostgreSQL's strong random generator (gen_random_uuid, built in since
-- PostgreSQL 13). The environment variable AGENT_TOKEN_INDEX_KEY, when set,
-- takes its place.
CREATE TABLE IF NOT EXISTS edge_secret (
    name varchar PRIMARY KEY,
    value bytea NOT NULL,
    created_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
INSERT INTO edge_secret (name, value)
VALUES ('agent_token_index_key',
        sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text
                          || clock_timestamp()::text, 'UTF8')))
ON CONFLICT (name) DO NOTHING;

-- One row per agent token that authenticated: token_digest is
-- HMAC-SHA256(index key, token), and source_hash is the agents.agent_token_hash
-- value the token was verified against. A row counts only while the agent's
-- agent_token_hash still equals source_hash, so a token rotated or cleared by
-- upstream or by SQL stops working at once. Rows of a changed hash stay until
-- the agent's next token is indexed, and go with the agent.
-- NOTE: rows made with one index key are useless under another, and they keep
-- their agents out of the legacy PBKDF2 pass. After changing
-- AGENT_TOKEN_INDEX_KEY, empty this table.
CREATE TABLE IF NOT EXISTS edge_agent_token_index (
    token_digest bytea PRIMARY KEY,
    agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    source_hash varchar NOT NULL,
    created_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX IF NOT EXISTS ix_edge_agent_token_index_agent_id
    ON edge_agent_token_index (agent_id);


-- Rate limiter state
-- One row per limiter key ("<endpoint>:<client>[:<webhook>]"): the times of the
-- key's most recent attempts, newest first, in microseconds since the Unix epoch
-- from clock_timestamp(), at most the limit's count of them. UNLOGGED: the table
-- writes no WAL, so a decision costs no fsync; PostgreSQL empties it after a crash,
-- which loses only recent attempts. No index besides the key, so every update
-- stays a HOT update.
CREATE UNLOGGED TABLE IF NOT EXISTS edge_rate_limit (
    key varchar PRIMARY KEY,
    hits bigint[] NOT NULL,
    last_allowed boolean NOT NULL,
    expires_us bigint NOT NULL
);

-- Records one attempt under p_key and decides it. allowed: fewer than p_limit
-- attempts were inside the window before this one (an attempt at t counts while
-- now - t < window). Refused attempts are recorded too. Only attempts inside
-- the window are kept, since older ones never count again, and at most p_limit
-- of them. retry_after_ms and reset_ms: time until the oldest counted attempt,
-- this one included, leaves the window. About one call in 500 also deletes up
-- to 1000 idle keys. PL/pgSQL caches the plans of its statements; a plain SQL
-- function measured about ten times slower here (pgbench, PostgreSQL 15).
CREATE OR REPLACE FUNCTION edge_rate_limit_hit(p_key varchar, p_limit integer, p_window_ms bigint)
RETURNS TABLE (allowed boolean, retry_after_ms bigint, remaining integer, reset_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    now_us bigint := floor(extract(epoch FROM clock_timestamp()) * 1000000);
    window_us bigint := p_window_ms * 1000;
    kept bigint[];
    oldest_counted bigint;
BEGIN
    -- The upsert holds the key's row lock until commit, so concurrent callers
    -- queue on it and each one decides on the state its predecessor left.
    -- Every SET expression reads the row as it was before this attempt.
    INSERT INTO edge_rate_limit AS r (key, hits, last_allowed, expires_us)
    VALUES (p_key, ARRAY[now_us], true, now_us + window_us + 1000000)
    ON CONFLICT (key) DO UPDATE SET
        last_allowed = (SELECT count(*) FROM unnest(r.hits) AS h(t)
                        WHERE now_us - h.t < window_us) < p_limit,
        hits = ARRAY(SELECT h.t FROM unnest(r.hits || now_us) AS h(t)
                     WHERE now_us - h.t < window_us
                     ORDER BY h.t DESC LIMIT p_limit),
        expires_us = EXCLUDED.expires_us
    RETURNING r.last_allowed, r.hits INTO allowed, kept;

    SELECT min(h.t) INTO oldest_counted FROM unnest(kept) AS h(t);
    remaining := greatest(p_limit - cardinality(kept), 0);
    reset_ms := ceil((oldest_counted + window_us - now_us) / 1000.0);
    retry_after_ms := reset_ms;

    IF random() < 0.002 THEN
        DELETE FROM edge_rate_limit
        WHERE key IN (SELECT i.key FROM edge_rate_limit AS i
                      WHERE i.expires_us < now_us
                      LIMIT 1000 FOR UPDATE SKIP LOCKED);
    END IF;
    RETURN NEXT;
END
$$;

-- Decides like edge_rate_limit_hit whether an attempt under p_key would be
-- allowed, without recording one (RATE_LIMIT_AGENT_AUTH_SCOPE=failures
-- records only failed attempts). reset_ms is 0 when nothing is counted.
CREATE OR REPLACE FUNCTION edge_rate_limit_peek(p_key varchar, p_limit integer, p_window_ms bigint)
RETURNS TABLE (allowed boolean, retry_after_ms bigint, remaining integer, reset_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    now_us bigint := floor(extract(epoch FROM clock_timestamp()) * 1000000);
    window_us bigint := p_window_ms * 1000;
    counted integer;
    oldest_counted bigint;
BEGIN
    SELECT count(*), min(h.t) INTO counted, oldest_counted
    FROM edge_rate_limit AS r CROSS JOIN LATERAL unnest(r.hits) AS h(t)
    WHERE r.key = p_key AND now_us - h.t < window_us;

    allowed := counted < p_limit;
    remaining := greatest(p_limit - counted, 0);
    reset_ms := coalesce(ceil((oldest_counted + window_us - now_us) / 1000.0), 0);
    retry_after_ms := reset_ms;
    RETURN NEXT;
END
$$;

COMMIT;
