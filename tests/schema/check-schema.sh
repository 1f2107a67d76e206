#!/usr/bin/env bash
# Check sql/schema.sql against a real PostgreSQL server. On an empty database
# it must create upstream's tables as upstream defines them. A second run must
# change nothing. Tables that upstream created first must be extended without
# duplicate indexes or constraints. No superuser right may be needed.
#
# Usage: DATABASE_URL=postgresql://... tests/schema/check-schema.sh
#
# The URL's server is used to create and drop scratch databases named
# edge_schema_check_<pid>_*; the database in the URL itself is never touched.
# The URL's user needs CREATEDB. The non-superuser case also needs a user that
# may create roles, and is skipped otherwise. Prints one "ok ..." or "FAIL ..."
# line per case (details indented below a failure) and exits 1 if any failed.

set -u

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd -P)
SCHEMA_FILE=$SCRIPT_DIR/../../sql/schema.sql
SCRATCH_PREFIX=edge_schema_check_$$
WORK_DIR=$(mktemp -d)
failures=0
scratch_databases=()
scratch_role=

if [ -z "${DATABASE_URL:-}" ]; then
    echo "FAIL schema check: DATABASE_URL is not set; point it at a server where its user may create databases"
    exit 1
fi
if [ ! -r "$SCHEMA_FILE" ]; then
    echo "FAIL schema check: $SCHEMA_FILE not found"
    exit 1
fi

# libpq rejects the "+driver" part of upstream's postgresql+psycopg:// URLs.
SERVER_URL=$(printf '%s' "$DATABASE_URL" | sed -E 's#^postgres(ql)?\+[A-Za-z0-9_]+://#postgresql://#')


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

pass() {
    printf 'ok %s\n' "$1"
}

# fail NAME [DETAIL_FILE]: report a failed case with the file's lines indented.
fail() {
    printf 'FAIL %s\n' "$1"
    if [ $# -ge 2 ] && [ -s "$2" ]; then
        head -n 40 "$2" | sed 's/^/    /'
    fi
    failures=$((failures + 1))
}

# Print the connection string of scratch database $1 on the server of
# DATABASE_URL.
scratch_url() {
    case $SERVER_URL in
        postgres://* | postgresql://*)
            printf '%s' "$SERVER_URL" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\\1/$1#"
            ;;
        *)
            # Keyword/value form: a later keyword overrides an earlier one.
            printf '%s dbname=%s' "$SERVER_URL" "$1"
            ;;
    esac
}

create_scratch_database() {
    local name=$1
    shift
    scratch_databases+=("$name")
    createdb --maintenance-db="$SERVER_URL" "$@" "$name"
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local name
    for name in "${scratch_databases[@]}"; do
        dropdb --maintenance-db="$SERVER_URL" --if-exists "$name" 2>/dev/null
    done
    if [ -n "$scratch_role" ]; then
        psql -X -q -d "$SERVER_URL" -c "DROP ROLE IF EXISTS $scratch_role" 2>/dev/null
    fi
    rm -rf "$WORK_DIR"
}
trap cleanup EXIT

# query URL SQL: run the statements in SQL one by one and print their rows as
# unaligned "|"-separated text.
query() {
    psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 -d "$1" -f - <<<"$2"
}

# apply_schema URL NAME [PSQL_ARGS...]: run the schema the documented way,
# with standard output and error kept in WORK_DIR/NAME.out and NAME.err.
apply_schema() {
    local url=$1 name=$2
    shift 2
    psql -X -v ON_ERROR_STOP=1 -d "$url" "$@" -f "$SCHEMA_FILE" \
        >"$WORK_DIR/$name.out" 2>"$WORK_DIR/$name.err"
}

# The tables that this check pins down completely: upstream's ten and the
# suite's three. Tables added to the schema later are covered by the rerun
# snapshot only.
CHECKED_TABLES="'organizations', 'users', 'organization_members',
    'organization_board_access', 'gateways', 'boards', 'agents',
    'board_webhooks', 'board_webhook_payloads', 'board_memory',
    'edge_schema_version', 'edge_webhook_raw_body', 'edge_notification_outbox'"

list_columns() {
    query "$1" "
        SELECT table_name, column_name, data_type, is_nullable,
               coalesce(column_default, '')
        FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name IN ($CHECKED_TABLES)
        ORDER BY 1, 2"
}

list_indexes() {
    query "$1" "
        SELECT tablename, indexname,
               replace(indexdef, ' ON ' || schemaname || '.', ' ON ')
        FROM pg_indexes
        WHERE schemaname = current_schema() AND tablename IN ($CHECKED_TABLES)
        ORDER BY 1, 2"
}

list_constraints() {
    query "$1" "
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE connamespace = current_schema()::regnamespace
          AND conrelid::regclass::text IN ($CHECKED_TABLES)
        ORDER BY 1, 2"
}

# Everything a rerun could change in the schema: every column, index,
# constraint and relation (with its storage file, which a rewrite replaces),
# and the rows of edge_schema_version.
snapshot() {
    query "$1" "
        SELECT 'column', table_name || '.' || column_name,
               data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
        FROM information_schema.columns
        WHERE table_schema = current_schema()
        UNION ALL
        SELECT 'relation', relname, relkind::text || ' ' || relfilenode || ' ' || pg_get_userbyid(relowner)
        FROM pg_class
        WHERE relnamespace = current_schema()::regnamespace
        UNION ALL
        SELECT 'index', indexname, indexdef
        FROM pg_indexes
        WHERE schemaname = current_schema()
        UNION ALL
        SELECT 'constraint', conrelid::regclass::text || '.' || conname,
               pg_get_constraintdef(oid) || ' valid=' || convalidated
        FROM pg_constraint
        WHERE connamespace = current_schema()::regnamespace
        UNION ALL
        SELECT 'version', version::text, applied_at::text
        FROM edge_schema_version
        ORDER BY 1, 2, 3"
}

# compare NAME EXPECTED_TEXT ACTUAL_FILE: pass when equal, else fail with a diff.
compare() {
    local name=$1 expected=$2 actual=$3
    printf '%s\n' "$expected" | sed '/^$/d' >"$actual.expected"
    if diff -u "$actual.expected" "$actual" >"$actual.diff"; then
        pass "$name"
    else
        fail "$name" "$actual.diff"
    fi
}

# check_queries NAME URL SQL: SQL contains SELECT statements that each print a
# line only when a condition fails. No output means the case passed.
check_queries() {
    local name=$1 url=$2 sql=$3 output=$WORK_DIR/check.out
    if ! query "$url" "$sql" >"$output" 2>&1; then
        fail "$name" "$output"
    elif [ -s "$output" ]; then
        fail "$name" "$output"
    else
        pass "$name"
    fi
}


# ---------------------------------------------------------------------------
# Expected catalog of an empty database after the schema ran
# ---------------------------------------------------------------------------
# Upstream's columns, types, nullability, index and constraint names, as its
# models and Alembic migrations define them (openclaw-mission-control,
# backend/app/models and backend/migrations/versions). Upstream's tables have
# no server defaults except the ones its migrations left on boards. The
# defaults on agents.lifecycle_generation and agents.wake_attempts are this
# schema's own, so that inserts may omit those columns.

EXPECTED_COLUMNS=$(cat <<'EOF'
agents|agent_token_hash|character varying|YES|
agents|board_id|uuid|YES|
agents|checkin_deadline_at|timestamp without time zone|YES|
agents|created_at|timestamp without time zone|NO|
agents|delete_confirm_token_hash|character varying|YES|
agents|delete_requested_at|timestamp without time zone|YES|
agents|gateway_id|uuid|NO|
agents|heartbeat_config|json|YES|
agents|id|uuid|NO|
agents|identity_profile|json|YES|
agents|identity_template|text|YES|
agents|is_board_lead|boolean|NO|
agents|last_provision_error|text|YES|
agents|last_seen_at|timestamp without time zone|YES|
agents|last_wake_sent_at|timestamp without time zone|YES|
agents|lifecycle_generation|integer|NO|0
agents|name|character varying|NO|
agents|openclaw_session_id|character varying|YES|
agents|provision_action|character varying|YES|
agents|provision_confirm_token_hash|character varying|YES|
agents|provision_requested_at|timestamp without time zone|YES|
agents|soul_template|text|YES|
agents|status|character varying|NO|
agents|updated_at|timestamp without time zone|NO|
agents|wake_attempts|integer|NO|0
board_memory|board_id|uuid|NO|
board_memory|content|character varying|NO|
board_memory|created_at|timestamp without time zone|NO|
board_memory|id|uuid|NO|
board_memory|is_chat|boolean|NO|
board_memory|source|character varying|YES|
board_memory|tags|json|YES|
board_webhook_payloads|board_id|uuid|NO|
board_webhook_payloads|content_type|character varying|YES|
board_webhook_payloads|headers|json|YES|
board_webhook_payloads|id|uuid|NO|
board_webhook_payloads|payload|json|YES|
board_webhook_payloads|received_at|timestamp without time zone|NO|
board_webhook_payloads|source_ip|character varying|YES|
board_webhook_payloads|webhook_id|uuid|NO|
board_webhooks|agent_id|uuid|YES|
board_webhooks|board_id|uuid|NO|
board_webhooks|created_at|timestamp without time zone|NO|
board_webhooks|description|character varying|NO|
board_webhooks|enabled|boolean|NO|
board_webhooks|id|uuid|NO|
board_webhooks|secret|character varying|YES|
board_webhooks|signature_header|character varying|YES|
board_webhooks|updated_at|timestamp without time zone|NO|
boards|block_status_changes_with_pending_approval|boolean|NO|false
boards|board_group_id|uuid|YES|
boards|board_type|character varying|NO|'goal'::character varying
boards|comment_required_for_review|boolean|NO|false
boards|created_at|timestamp without time zone|NO|
boards|description|character varying|NO|
boards|gateway_id|uuid|YES|
boards|goal_confirmed|boolean|NO|false
boards|goal_source|character varying|YES|
boards|id|uuid|NO|
boards|max_agents|integer|NO|1
boards|name|character varying|NO|
boards|objective|character varying|YES|
boards|only_lead_can_change_status|boolean|NO|false
boards|organization_id|uuid|NO|
boards|require_approval_for_done|boolean|NO|true
boards|require_review_before_done|boolean|NO|false
boards|slug|character varying|NO|
boards|success_metrics|json|YES|
boards|target_date|timestamp without time zone|YES|
boards|updated_at|timestamp without time zone|NO|
edge_notification_outbox|agent_id|uuid|YES|
edge_notification_outbox|attempts|integer|NO|0
edge_notification_outbox|board_id|uuid|NO|
edge_notification_outbox|claim_id|uuid|YES|
edge_notification_outbox|claimed_by|character varying|YES|
edge_notification_outbox|created_at|timestamp without time zone|NO|(now() AT TIME ZONE 'utc'::text)
edge_notification_outbox|gateway_answer|character varying|YES|
edge_notification_outbox|gateway_id|uuid|YES|
edge_notification_outbox|id|uuid|NO|gen_random_uuid()
edge_notification_outbox|last_attempt_at|timestamp without time zone|YES|
edge_notification_outbox|last_error|character varying|YES|
edge_notification_outbox|last_outcome|character varying|YES|
edge_notification_outbox|lease_until|timestamp without time zone|YES|
edge_notification_outbox|next_attempt_at|timestamp without time zone|NO|(now() AT TIME ZONE 'utc'::text)
edge_notification_outbox|payload_id|uuid|NO|
edge_notification_outbox|retried_at|timestamp without time zone|YES|
edge_notification_outbox|sent_at|timestamp without time zone|YES|
edge_notification_outbox|session_key|character varying|YES|
edge_notification_outbox|state|character varying|NO|'pending'::character varying
edge_notification_outbox|updated_at|timestamp without time zone|NO|(now() AT TIME ZONE 'utc'::text)
edge_notification_outbox|webhook_id|uuid|NO|
edge_schema_version|applied_at|timestamp without time zone|NO|(now() AT TIME ZONE 'utc'::text)
edge_schema_version|version|integer|NO|
edge_webhook_raw_body|body|bytea|NO|
edge_webhook_raw_body|payload_id|uuid|NO|
gateways|allow_insecure_tls|boolean|NO|
gateways|created_at|timestamp without time zone|NO|
gateways|disable_device_pairing|boolean|NO|
gateways|id|uuid|NO|
gateways|name|character varying|NO|
gateways|organization_id|uuid|NO|
gateways|token|character varying|YES|
gateways|updated_at|timestamp without time zone|NO|
gateways|url|character varying|NO|
gateways|workspace_root|character varying|NO|
organization_board_access|board_id|uuid|NO|
organization_board_access|can_read|boolean|NO|
organization_board_access|can_write|boolean|NO|
organization_board_access|created_at|timestamp without time zone|NO|
organization_board_access|id|uuid|NO|
organization_board_access|organization_member_id|uuid|NO|
organization_board_access|updated_at|timestamp without time zone|NO|
organization_members|all_boards_read|boolean|NO|
organization_members|all_boards_write|boolean|NO|
organization_members|created_at|timestamp without time zone|NO|
organization_members|id|uuid|NO|
organization_members|organization_id|uuid|NO|
organization_members|role|character varying|NO|
organization_members|updated_at|timestamp without time zone|NO|
organization_members|user_id|uuid|NO|
organizations|created_at|timestamp without time zone|NO|
organizations|id|uuid|NO|
organizations|name|character varying|NO|
organizations|updated_at|timestamp without time zone|NO|
users|active_organization_id|uuid|YES|
users|clerk_user_id|character varying|NO|
users|context|character varying|YES|
users|email|character varying|YES|
users|id|uuid|NO|
users|is_super_admin|boolean|NO|
users|name|character varying|YES|
users|notes|character varying|YES|
users|preferred_name|character varying|YES|
users|pronouns|character varying|YES|
users|timezone|character varying|YES|
EOF
)

EXPECTED_INDEXES=$(cat <<'EOF'
agents|agents_pkey|CREATE UNIQUE INDEX agents_pkey ON agents USING btree (id)
agents|ix_agents_agent_token_hash|CREATE INDEX ix_agents_agent_token_hash ON agents USING btree (agent_token_hash)
agents|ix_agents_board_id|CREATE INDEX ix_agents_board_id ON agents USING btree (board_id)
agents|ix_agents_delete_confirm_token_hash|CREATE INDEX ix_agents_delete_confirm_token_hash ON agents USING btree (delete_confirm_token_hash)
agents|ix_agents_gateway_id|CREATE INDEX ix_agents_gateway_id ON agents USING btree (gateway_id)
agents|ix_agents_is_board_lead|CREATE INDEX ix_agents_is_board_lead ON agents USING btree (is_board_lead)
agents|ix_agents_name|CREATE INDEX ix_agents_name ON agents USING btree (name)
agents|ix_agents_openclaw_session_id|CREATE INDEX ix_agents_openclaw_session_id ON agents USING btree (openclaw_session_id)
agents|ix_agents_provision_action|CREATE INDEX ix_agents_provision_action ON agents USING btree (provision_action)
agents|ix_agents_provision_confirm_token_hash|CREATE INDEX ix_agents_provision_confirm_token_hash ON agents USING btree (provision_confirm_token_hash)
agents|ix_agents_status|CREATE INDEX ix_agents_status ON agents USING btree (status)
board_memory|board_memory_pkey|CREATE UNIQUE INDEX board_memory_pkey ON board_memory USING btree (id)
board_memory|ix_board_memory_board_id|CREATE INDEX ix_board_memory_board_id ON board_memory USING btree (board_id)
board_memory|ix_board_memory_board_id_is_chat_created_at|CREATE INDEX ix_board_memory_board_id_is_chat_created_at ON board_memory USING btree (board_id, is_chat, created_at)
board_memory|ix_board_memory_is_chat|CREATE INDEX ix_board_memory_is_chat ON board_memory USING btree (is_chat)
board_webhook_payloads|board_webhook_payloads_pkey|CREATE UNIQUE INDEX board_webhook_payloads_pkey ON board_webhook_payloads USING btree (id)
board_webhook_payloads|ix_board_webhook_payloads_board_id|CREATE INDEX ix_board_webhook_payloads_board_id ON board_webhook_payloads USING btree (board_id)
board_webhook_payloads|ix_board_webhook_payloads_board_webhook_received_at|CREATE INDEX ix_board_webhook_payloads_board_webhook_received_at ON board_webhook_payloads USING btree (board_id, webhook_id, received_at)
board_webhook_payloads|ix_board_webhook_payloads_received_at|CREATE INDEX ix_board_webhook_payloads_received_at ON board_webhook_payloads USING btree (received_at)
board_webhook_payloads|ix_board_webhook_payloads_webhook_id|CREATE INDEX ix_board_webhook_payloads_webhook_id ON board_webhook_payloads USING btree (webhook_id)
board_webhooks|board_webhooks_pkey|CREATE UNIQUE INDEX board_webhooks_pkey ON board_webhooks USING btree (id)
board_webhooks|ix_board_webhooks_agent_id|CREATE INDEX ix_board_webhooks_agent_id ON board_webhooks USING btree (agent_id)
board_webhooks|ix_board_webhooks_board_id|CREATE INDEX ix_board_webhooks_board_id ON board_webhooks USING btree (board_id)
board_webhooks|ix_board_webhooks_enabled|CREATE INDEX ix_board_webhooks_enabled ON board_webhooks USING btree (enabled)
boards|boards_pkey|CREATE UNIQUE INDEX boards_pkey ON boards USING btree (id)
boards|ix_boards_board_group_id|CREATE INDEX ix_boards_board_group_id ON boards USING btree (board_group_id)
boards|ix_boards_board_type|CREATE INDEX ix_boards_board_type ON boards USING btree (board_type)
boards|ix_boards_gateway_id|CREATE INDEX ix_boards_gateway_id ON boards USING btree (gateway_id)
boards|ix_boards_organization_id|CREATE INDEX ix_boards_organization_id ON boards USING btree (organization_id)
boards|ix_boards_slug|CREATE INDEX ix_boards_slug ON boards USING btree (slug)
edge_notification_outbox|edge_notification_outbox_payload_id_key|CREATE UNIQUE INDEX edge_notification_outbox_payload_id_key ON edge_notification_outbox USING btree (payload_id)
edge_notification_outbox|edge_notification_outbox_pkey|CREATE UNIQUE INDEX edge_notification_outbox_pkey ON edge_notification_outbox USING btree (id)
edge_notification_outbox|ix_edge_notification_outbox_dead_updated_at|CREATE INDEX ix_edge_notification_outbox_dead_updated_at ON edge_notification_outbox USING btree (updated_at) WHERE ((state)::text = 'dead'::text)
edge_notification_outbox|ix_edge_notification_outbox_pending_next_attempt_at|CREATE INDEX ix_edge_notification_outbox_pending_next_attempt_at ON edge_notification_outbox USING btree (next_attempt_at) WHERE ((state)::text = 'pending'::text)
edge_notification_outbox|ix_edge_notification_outbox_sending_lease_until|CREATE INDEX ix_edge_notification_outbox_sending_lease_until ON edge_notification_outbox USING btree (lease_until) WHERE ((state)::text = 'sending'::text)
edge_notification_outbox|ix_edge_notification_outbox_session_key_last_attempt_at|CREATE INDEX ix_edge_notification_outbox_session_key_last_attempt_at ON edge_notification_outbox USING btree (session_key, last_attempt_at) WHERE (session_key IS NOT NULL)
edge_schema_version|edge_schema_version_pkey|CREATE UNIQUE INDEX edge_schema_version_pkey ON edge_schema_version USING btree (version)
edge_webhook_raw_body|edge_webhook_raw_body_pkey|CREATE UNIQUE INDEX edge_webhook_raw_body_pkey ON edge_webhook_raw_body USING btree (payload_id)
gateways|gateways_pkey|CREATE UNIQUE INDEX gateways_pkey ON gateways USING btree (id)
gateways|ix_gateways_organization_id|CREATE INDEX ix_gateways_organization_id ON gateways USING btree (organization_id)
organization_board_access|ix_organization_board_access_board_id|CREATE INDEX ix_organization_board_access_board_id ON organization_board_access USING btree (board_id)
organization_board_access|ix_organization_board_access_organization_member_id|CREATE INDEX ix_organization_board_access_organization_member_id ON organization_board_access USING btree (organization_member_id)
organization_board_access|organization_board_access_pkey|CREATE UNIQUE INDEX organization_board_access_pkey ON organization_board_access USING btree (id)
organization_board_access|uq_org_board_access_member_board|CREATE UNIQUE INDEX uq_org_board_access_member_board ON organization_board_access USING btree (organization_member_id, board_id)
organization_members|ix_organization_members_organization_id|CREATE INDEX ix_organization_members_organization_id ON organization_members USING btree (organization_id)
organization_members|ix_organization_members_role|CREATE INDEX ix_organization_members_role ON organization_members USING btree (role)
organization_members|ix_organization_members_user_id|CREATE INDEX ix_organization_members_user_id ON organization_members USING btree (user_id)
organization_members|organization_members_pkey|CREATE UNIQUE INDEX organization_members_pkey ON organization_members USING btree (id)
organization_members|uq_organization_members_org_user|CREATE UNIQUE INDEX uq_organization_members_org_user ON organization_members USING btree (organization_id, user_id)
organizations|ix_organizations_name|CREATE INDEX ix_organizations_name ON organizations USING btree (name)
organizations|organizations_pkey|CREATE UNIQUE INDEX organizations_pkey ON organizations USING btree (id)
users|ix_users_active_organization_id|CREATE INDEX ix_users_active_organization_id ON users USING btree (active_organization_id)
users|ix_users_clerk_user_id|CREATE UNIQUE INDEX ix_users_clerk_user_id ON users USING btree (clerk_user_id)
users|ix_users_email|CREATE INDEX ix_users_email ON users USING btree (email)
users|users_pkey|CREATE UNIQUE INDEX users_pkey ON users USING btree (id)
EOF
)

EXPECTED_CONSTRAINTS=$(cat <<'EOF'
agents|agents_board_id_fkey|FOREIGN KEY (board_id) REFERENCES boards(id)
agents|agents_pkey|PRIMARY KEY (id)
agents|fk_agents_gateway_id_gateways|FOREIGN KEY (gateway_id) REFERENCES gateways(id)
board_memory|board_memory_board_id_fkey|FOREIGN KEY (board_id) REFERENCES boards(id)
board_memory|board_memory_pkey|PRIMARY KEY (id)
board_webhook_payloads|board_webhook_payloads_board_id_fkey|FOREIGN KEY (board_id) REFERENCES boards(id)
board_webhook_payloads|board_webhook_payloads_pkey|PRIMARY KEY (id)
board_webhook_payloads|board_webhook_payloads_webhook_id_fkey|FOREIGN KEY (webhook_id) REFERENCES board_webhooks(id)
board_webhooks|board_webhooks_board_id_fkey|FOREIGN KEY (board_id) REFERENCES boards(id)
board_webhooks|board_webhooks_pkey|PRIMARY KEY (id)
board_webhooks|fk_board_webhooks_agent_id_agents|FOREIGN KEY (agent_id) REFERENCES agents(id)
boards|boards_gateway_id_fkey|FOREIGN KEY (gateway_id) REFERENCES gateways(id)
boards|boards_organization_id_fkey|FOREIGN KEY (organization_id) REFERENCES organizations(id)
boards|boards_pkey|PRIMARY KEY (id)
edge_notification_outbox|edge_notification_outbox_payload_id_fkey|FOREIGN KEY (payload_id) REFERENCES board_webhook_payloads(id) ON DELETE CASCADE
edge_notification_outbox|edge_notification_outbox_payload_id_key|UNIQUE (payload_id)
edge_notification_outbox|edge_notification_outbox_pkey|PRIMARY KEY (id)
edge_notification_outbox|edge_notification_outbox_state_check|CHECK (((state)::text = ANY ((ARRAY['pending'::character varying, 'sending'::character varying, 'sent'::character varying, 'dead'::character varying, 'closed'::character varying])::text[])))
edge_schema_version|edge_schema_version_pkey|PRIMARY KEY (version)
edge_webhook_raw_body|edge_webhook_raw_body_payload_id_fkey|FOREIGN KEY (payload_id) REFERENCES board_webhook_payloads(id) ON DELETE CASCADE
edge_webhook_raw_body|edge_webhook_raw_body_pkey|PRIMARY KEY (payload_id)
gateways|gateways_organization_id_fkey|FOREIGN KEY (organization_id) REFERENCES organizations(id)
gateways|gateways_pkey|PRIMARY KEY (id)
organization_board_access|organization_board_access_board_id_fkey|FOREIGN KEY (board_id) REFERENCES boards(id)
organization_board_access|organization_board_access_organization_member_id_fkey|FOREIGN KEY (organization_member_id) REFERENCES organization_members(id)
organization_board_access|organization_board_access_pkey|PRIMARY KEY (id)
organization_board_access|uq_org_board_access_member_board|UNIQUE (organization_member_id, board_id)
organization_members|organization_members_organization_id_fkey|FOREIGN KEY (organization_id) REFERENCES organizations(id)
organization_members|organization_members_pkey|PRIMARY KEY (id)
organization_members|organization_members_user_id_fkey|FOREIGN KEY (user_id) REFERENCES users(id)
organization_members|uq_organization_members_org_user|UNIQUE (organization_id, user_id)
organizations|organizations_pkey|PRIMARY KEY (id)
users|users_active_organization_id_fkey|FOREIGN KEY (active_organization_id) REFERENCES organizations(id)
users|users_pkey|PRIMARY KEY (id)
EOF
)

# Columns that the suite reads or writes, per table. Their type and
# nullability must match EXPECTED_COLUMNS on any database the schema ran on.
SUITE_COLUMNS=$(cat <<'EOF'
organizations id name created_at updated_at
users id clerk_user_id email name is_super_admin active_organization_id
organization_members id organization_id user_id role all_boards_read all_boards_write created_at updated_at
organization_board_access id organization_member_id board_id can_read can_write created_at updated_at
gateways id organization_id name url token disable_device_pairing workspace_root allow_insecure_tls created_at updated_at
boards id organization_id name slug description gateway_id created_at updated_at
agents id board_id gateway_id name status openclaw_session_id agent_token_hash is_board_lead last_seen_at created_at updated_at
board_webhooks id board_id agent_id description enabled secret signature_header created_at updated_at
board_webhook_payloads id board_id webhook_id payload headers source_ip content_type received_at
board_memory id board_id content tags is_chat source created_at
EOF
)

# Print "table|column|type|nullable" for the suite's columns from a listing
# in the format of list_columns (the default field is dropped).
suite_columns_of() {
    awk -F'|' -v wanted="$SUITE_COLUMNS" '
        BEGIN {
            lines = split(wanted, rows, "\n")
            for (i = 1; i <= lines; i++) {
                fields = split(rows[i], names, " ")
                for (j = 2; j <= fields; j++) keep[names[1] "|" names[j]] = 1
            }
        }
        ($1 "|" $2) in keep { print $1 "|" $2 "|" $3 "|" $4 }
    '
}

# Column sets that the suite's queries need an index for: a valid plain index
# must start with them.
REQUIRED_INDEX_CHECKS="
    SELECT 'no index starts with ' || t || '(' || array_to_string(cols, ', ') || ')'
    FROM (VALUES
        ('board_webhooks', ARRAY['board_id']),
        ('agents', ARRAY['board_id']),
        ('agents', ARRAY['gateway_id']),
        ('board_webhook_payloads', ARRAY['board_id', 'webhook_id']),
        ('board_memory', ARRAY['board_id']),
        ('boards', ARRAY['organization_id']),
        ('organization_members', ARRAY['user_id'])
    ) AS required (t, cols)
    WHERE NOT EXISTS (
        SELECT 1
        FROM pg_index i
        CROSS JOIN LATERAL (
            SELECT array_agg(a.attname::text ORDER BY k.n) AS names
            FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, n)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE k.n <= i.indnkeyatts
        ) AS key_columns
        WHERE i.indrelid = to_regclass(required.t)
          AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
          AND key_columns.names[1:cardinality(required.cols)] = required.cols
    );"


# ---------------------------------------------------------------------------
# Case 1: empty database, then a second run on it
# ---------------------------------------------------------------------------

check_empty_database() {
    local name=${SCRATCH_PREFIX}_empty url
    url=$(scratch_url "$name")

    if ! create_scratch_database "$name" 2>"$WORK_DIR/createdb.err"; then
        fail "schema applies on empty database" "$WORK_DIR/createdb.err"
        return
    fi

    if ! apply_schema "$url" empty; then
        fail "schema applies on empty database" "$WORK_DIR/empty.err"
        return
    fi
    if [ -s "$WORK_DIR/empty.err" ]; then
        fail "schema applies on empty database without warnings" "$WORK_DIR/empty.err"
    else
        pass "schema applies on empty database"
    fi

    list_columns "$url" >"$WORK_DIR/empty.columns"
    compare "schema creates upstream columns" "$EXPECTED_COLUMNS" "$WORK_DIR/empty.columns"
    list_indexes "$url" >"$WORK_DIR/empty.indexes"
    compare "schema creates upstream indexes" "$EXPECTED_INDEXES" "$WORK_DIR/empty.indexes"
    list_constraints "$url" >"$WORK_DIR/empty.constraints"
    compare "schema creates upstream constraints" "$EXPECTED_CONSTRAINTS" "$WORK_DIR/empty.constraints"
    check_queries "schema creates required indexes" "$url" "$REQUIRED_INDEX_CHECKS"
    check_edge_tables "$url"

    if ! snapshot "$url" >"$WORK_DIR/empty.before" 2>"$WORK_DIR/snapshot.err"; then
        fail "schema rerun changes nothing (snapshot)" "$WORK_DIR/snapshot.err"
        return
    fi
    if ! apply_schema "$url" rerun; then
        fail "schema rerun succeeds" "$WORK_DIR/rerun.err"
        return
    fi
    if ! snapshot "$url" >"$WORK_DIR/empty.after" 2>"$WORK_DIR/snapshot.err"; then
        fail "schema rerun changes nothing (snapshot)" "$WORK_DIR/snapshot.err"
    elif [ -s "$WORK_DIR/rerun.err" ]; then
        fail "schema rerun prints no warnings" "$WORK_DIR/rerun.err"
    elif ! diff -u "$WORK_DIR/empty.before" "$WORK_DIR/empty.after" >"$WORK_DIR/rerun.diff"; then
        fail "schema rerun changes nothing" "$WORK_DIR/rerun.diff"
    else
        pass "schema rerun changes nothing"
    fi
}

# Exercise the suite's own tables: defaults, the state check, cascades.
# Each SELECT prints a line only when its expectation fails.
check_edge_tables() {
    local url=$1
    check_queries "edge tables keep their rules" "$url" "
        SELECT 'edge_schema_version does not hold exactly version 1'
        WHERE (SELECT array_agg(version) FROM edge_schema_version) IS DISTINCT FROM ARRAY[1];

        INSERT INTO organizations VALUES
            ('00000000-0000-4000-8000-000000000001', 'org', now(), now());
        INSERT INTO boards (id, organization_id, name, slug, description, created_at, updated_at)
        VALUES ('00000000-0000-4000-8000-000000000002',
                '00000000-0000-4000-8000-000000000001', 'board', 'board', '', now(), now());
        INSERT INTO board_webhooks (id, board_id, description, enabled, created_at, updated_at)
        VALUES ('00000000-0000-4000-8000-000000000003',
                '00000000-0000-4000-8000-000000000002', 'hook', true, now(), now());
        INSERT INTO board_webhook_payloads (id, board_id, webhook_id, payload, received_at)
        VALUES ('00000000-0000-4000-8000-000000000004',
                '00000000-0000-4000-8000-000000000002',
                '00000000-0000-4000-8000-000000000003', '\"text\"', now());
        INSERT INTO edge_notification_outbox (payload_id, board_id, webhook_id)
        VALUES ('00000000-0000-4000-8000-000000000004',
                '00000000-0000-4000-8000-000000000002',
                '00000000-0000-4000-8000-000000000003');
        INSERT INTO edge_webhook_raw_body VALUES
            ('00000000-0000-4000-8000-000000000004', '\\xff00'::bytea);

        SELECT 'outbox defaults wrong: ' || state || ', attempts ' || attempts
        FROM edge_notification_outbox
        WHERE NOT (state = 'pending' AND attempts = 0 AND id IS NOT NULL
                   AND abs(extract(epoch FROM next_attempt_at - (now() AT TIME ZONE 'utc'))) < 1
                   AND created_at = updated_at);

        DO \$\$
        BEGIN
            UPDATE edge_notification_outbox SET state = 'bogus';
            RAISE EXCEPTION 'outbox accepted the state bogus';
        EXCEPTION WHEN check_violation THEN
            NULL;
        END
        \$\$;
        DO \$\$
        BEGIN
            INSERT INTO edge_notification_outbox (payload_id, board_id, webhook_id)
            VALUES ('00000000-0000-4000-8000-000000000004',
                    '00000000-0000-4000-8000-000000000002',
                    '00000000-0000-4000-8000-000000000003');
            RAISE EXCEPTION 'outbox accepted a second row for one payload';
        EXCEPTION WHEN unique_violation THEN
            NULL;
        END
        \$\$;

        DELETE FROM board_webhook_payloads;
        SELECT 'deleting a payload left its outbox row'
        WHERE EXISTS (SELECT 1 FROM edge_notification_outbox);
        SELECT 'deleting a payload left its raw body'
        WHERE EXISTS (SELECT 1 FROM edge_webhook_raw_body);

        DELETE FROM board_webhooks;
        DELETE FROM boards;
        DELETE FROM organizations;
    "
}


# ---------------------------------------------------------------------------
# Case 2: a database that upstream created first
# ---------------------------------------------------------------------------
# The tables of an older upstream release with local changes. Indexes and
# unique constraints have other names, and some tables have extra columns.
# Columns that later upstream releases added are missing. One foreign key is
# missing and a row breaks it. One table is unknown to the schema.

UPSTREAM_TABLES_SQL="
CREATE TABLE organizations (
    id uuid PRIMARY KEY, name varchar NOT NULL,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE INDEX organizations_by_name ON organizations (name);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    clerk_user_id varchar NOT NULL CONSTRAINT users_clerk_id_unique UNIQUE,
    email varchar, name varchar, preferred_name varchar, pronouns varchar,
    timezone varchar, notes varchar, context varchar,
    is_super_admin boolean NOT NULL,
    active_organization_id uuid CONSTRAINT users_active_org_ref REFERENCES organizations (id),
    theme varchar);

CREATE TABLE organization_members (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    role varchar NOT NULL, all_boards_read boolean NOT NULL,
    all_boards_write boolean NOT NULL,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL,
    CONSTRAINT members_user_org_unique UNIQUE (user_id, organization_id));

CREATE TABLE gateways (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id),
    name varchar NOT NULL, url varchar NOT NULL, token varchar,
    main_session_key varchar NOT NULL, workspace_root varchar NOT NULL,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL);

CREATE TABLE board_groups (
    id uuid PRIMARY KEY, organization_id uuid NOT NULL REFERENCES organizations (id),
    name varchar NOT NULL, slug varchar NOT NULL, description varchar,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL);

CREATE TABLE boards (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id),
    name varchar NOT NULL, slug varchar NOT NULL,
    gateway_id uuid CONSTRAINT boards_gateway_ref REFERENCES gateways (id),
    board_group_id uuid REFERENCES board_groups (id),
    board_type varchar NOT NULL, objective varchar, success_metrics json,
    target_date timestamp, goal_confirmed boolean NOT NULL, goal_source varchar,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE INDEX boards_org ON boards (organization_id);

CREATE TABLE organization_board_access (
    id uuid PRIMARY KEY,
    organization_member_id uuid NOT NULL REFERENCES organization_members (id),
    board_id uuid NOT NULL REFERENCES boards (id),
    can_read boolean NOT NULL, can_write boolean NOT NULL,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL,
    CONSTRAINT access_member_board_unique UNIQUE (organization_member_id, board_id));

CREATE TABLE agents (
    id uuid PRIMARY KEY,
    board_id uuid REFERENCES boards (id),
    gateway_id uuid NOT NULL CONSTRAINT agents_gateway_ref REFERENCES gateways (id),
    name varchar NOT NULL, status varchar NOT NULL,
    openclaw_session_id varchar, agent_token_hash varchar,
    last_seen_at timestamp, is_board_lead boolean NOT NULL,
    heartbeat_at timestamp, agent_token_prefix varchar,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE INDEX agents_board_status ON agents (board_id, status);

CREATE TABLE board_webhooks (
    id uuid PRIMARY KEY,
    board_id uuid NOT NULL REFERENCES boards (id),
    description varchar NOT NULL, enabled boolean NOT NULL,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE INDEX webhooks_by_board ON board_webhooks (board_id);

CREATE TABLE board_webhook_payloads (
    id uuid PRIMARY KEY,
    board_id uuid NOT NULL REFERENCES boards (id),
    webhook_id uuid NOT NULL REFERENCES board_webhooks (id),
    payload json, headers json, source_ip varchar, content_type varchar,
    received_at timestamp NOT NULL);
CREATE INDEX payloads_by_board_webhook ON board_webhook_payloads (board_id, webhook_id);

CREATE TABLE board_memory (
    id uuid PRIMARY KEY, board_id uuid NOT NULL, content varchar NOT NULL,
    tags json, is_chat boolean NOT NULL, source varchar,
    created_at timestamp NOT NULL);
CREATE INDEX memory_by_board ON board_memory (board_id, created_at);

CREATE TABLE tasks (
    id uuid PRIMARY KEY, board_id uuid REFERENCES boards (id),
    title varchar NOT NULL);

INSERT INTO organizations VALUES ('10000000-0000-4000-8000-000000000001', 'org', now(), now());
INSERT INTO users (id, clerk_user_id, is_super_admin, active_organization_id)
VALUES ('10000000-0000-4000-8000-000000000002', 'local-auth-user', false,
        '10000000-0000-4000-8000-000000000001');
INSERT INTO organization_members VALUES
    ('10000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000002', 'owner', true, true, now(), now());
INSERT INTO gateways VALUES
    ('10000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000001',
     'gw', 'ws://127.0.0.1:1', NULL, 'main', '/tmp', now(), now());
INSERT INTO boards (id, organization_id, name, slug, gateway_id, board_type,
                    goal_confirmed, created_at, updated_at)
VALUES ('10000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-000000000001',
        'board', 'board', '10000000-0000-4000-8000-000000000004', 'goal', false, now(), now());
INSERT INTO organization_board_access VALUES
    ('10000000-0000-4000-8000-000000000006', '10000000-0000-4000-8000-000000000003',
     '10000000-0000-4000-8000-000000000005', true, true, now(), now());
INSERT INTO agents (id, board_id, gateway_id, name, status, is_board_lead, created_at, updated_at)
VALUES ('10000000-0000-4000-8000-000000000007', '10000000-0000-4000-8000-000000000005',
        '10000000-0000-4000-8000-000000000004', 'lead', 'online', true, now(), now());
INSERT INTO board_webhooks VALUES
    ('10000000-0000-4000-8000-000000000008', '10000000-0000-4000-8000-000000000005',
     'hook', true, now(), now());
INSERT INTO board_webhook_payloads (id, board_id, webhook_id, payload, received_at)
VALUES ('10000000-0000-4000-8000-000000000009', '10000000-0000-4000-8000-000000000005',
        '10000000-0000-4000-8000-000000000008', '{}', now());
INSERT INTO board_memory (id, board_id, content, is_chat, created_at) VALUES
    ('10000000-0000-4000-8000-00000000000a', '10000000-0000-4000-8000-000000000005',
     'kept', false, now()),
    ('10000000-0000-4000-8000-00000000000b', '10000000-0000-4000-8000-0000000000ff',
     'row of a deleted board', false, now());
INSERT INTO tasks VALUES
    ('10000000-0000-4000-8000-00000000000c', '10000000-0000-4000-8000-000000000005', 'task');
"

# Each SELECT prints a line only when its expectation fails.
UPSTREAM_CHECKS="
    SELECT 'row count of ' || t || ' is ' || n || ', expected ' || expected
    FROM (VALUES
        ('organizations', (SELECT count(*) FROM organizations), 1),
        ('users', (SELECT count(*) FROM users), 1),
        ('organization_members', (SELECT count(*) FROM organization_members), 1),
        ('gateways', (SELECT count(*) FROM gateways), 1),
        ('boards', (SELECT count(*) FROM boards), 1),
        ('organization_board_access', (SELECT count(*) FROM organization_board_access), 1),
        ('agents', (SELECT count(*) FROM agents), 1),
        ('board_webhooks', (SELECT count(*) FROM board_webhooks), 1),
        ('board_webhook_payloads', (SELECT count(*) FROM board_webhook_payloads), 1),
        ('board_memory', (SELECT count(*) FROM board_memory), 2),
        ('tasks', (SELECT count(*) FROM tasks), 1)
    ) AS counts (t, n, expected)
    WHERE n <> expected;

    SELECT 'added column has wrong value in existing row'
    WHERE NOT EXISTS (
        SELECT 1 FROM gateways
        WHERE disable_device_pairing = false AND allow_insecure_tls = false)
       OR NOT EXISTS (SELECT 1 FROM boards WHERE description = '')
       OR NOT EXISTS (
        SELECT 1 FROM board_webhooks
        WHERE agent_id IS NULL AND secret IS NULL AND signature_header IS NULL);

    SELECT 'column ' || c || ' of the existing database is gone'
    FROM unnest(ARRAY['users.theme', 'gateways.main_session_key',
                      'agents.heartbeat_at', 'agents.agent_token_prefix']) AS c
    WHERE NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema()
          AND table_name || '.' || column_name = c);

    SELECT 'relation ' || r || ' of the existing database is gone'
    FROM unnest(ARRAY['organizations_by_name', 'boards_org', 'agents_board_status',
                      'webhooks_by_board', 'payloads_by_board_webhook',
                      'memory_by_board', 'tasks', 'board_groups']) AS r
    WHERE to_regclass(r) IS NULL;

    SELECT 'duplicate of an existing index was created: ' || r
    FROM unnest(ARRAY['ix_organizations_name', 'ix_users_clerk_user_id',
                      'ix_organization_members_user_id', 'ix_boards_organization_id',
                      'ix_agents_board_id', 'ix_board_webhooks_board_id',
                      'ix_board_memory_board_id']) AS r
    WHERE to_regclass(r) IS NOT NULL;

    SELECT 'duplicate of an existing constraint was created: ' || c
    FROM unnest(ARRAY['uq_organization_members_org_user', 'uq_org_board_access_member_board',
                      'fk_agents_gateway_id_gateways', 'users_active_organization_id_fkey',
                      'boards_gateway_id_fkey']) AS c
    WHERE EXISTS (SELECT 1 FROM pg_constraint WHERE conname = c);

    SELECT 'missing index was not created: ' || r
    FROM unnest(ARRAY['ix_agents_gateway_id', 'ix_organization_members_organization_id',
                      'ix_board_webhooks_agent_id',
                      'ix_board_webhook_payloads_board_webhook_received_at']) AS r
    WHERE to_regclass(r) IS NULL;

    SELECT 'missing foreign key was not created: fk_board_webhooks_agent_id_agents'
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conname = 'fk_board_webhooks_agent_id_agents' AND convalidated);

    SELECT 'foreign key broken by an existing row is not NOT VALID: board_memory_board_id_fkey'
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conname = 'board_memory_board_id_fkey' AND NOT convalidated);

    SELECT 'edge_schema_version does not hold exactly version 1'
    WHERE (SELECT array_agg(version) FROM edge_schema_version) IS DISTINCT FROM ARRAY[1];
"

check_upstream_database() {
    local name=${SCRATCH_PREFIX}_upstream url
    url=$(scratch_url "$name")

    if ! create_scratch_database "$name" 2>"$WORK_DIR/createdb.err"; then
        fail "schema applies over upstream tables" "$WORK_DIR/createdb.err"
        return
    fi
    if ! query "$url" "$UPSTREAM_TABLES_SQL" >"$WORK_DIR/upstream-setup.out" 2>&1; then
        fail "schema applies over upstream tables (setup)" "$WORK_DIR/upstream-setup.out"
        return
    fi

    if ! apply_schema "$url" upstream; then
        fail "schema applies over upstream tables" "$WORK_DIR/upstream.err"
        return
    fi
    # The only expected message is the warning about the broken foreign key.
    if grep -v 'WARNING: *existing rows of board_memory.board_id reference missing boards rows' \
        "$WORK_DIR/upstream.err" >"$WORK_DIR/upstream.unexpected"; then
        fail "schema applies over upstream tables with one warning" "$WORK_DIR/upstream.unexpected"
    elif ! grep -q 'board_memory.board_id' "$WORK_DIR/upstream.err"; then
        fail "schema warns about the broken foreign key" "$WORK_DIR/upstream.err"
    else
        pass "schema applies over upstream tables"
    fi

    check_queries "schema keeps upstream data and indexes" "$url" "$UPSTREAM_CHECKS"
    check_queries "schema covers required indexes over upstream" "$url" "$REQUIRED_INDEX_CHECKS"

    suite_columns_of <<<"$EXPECTED_COLUMNS" >"$WORK_DIR/upstream.expected-columns"
    list_columns "$url" | suite_columns_of >"$WORK_DIR/upstream.columns"
    compare "schema provides suite columns over upstream" \
        "$(cat "$WORK_DIR/upstream.expected-columns")" "$WORK_DIR/upstream.columns"

    if ! snapshot "$url" >"$WORK_DIR/upstream.before" 2>"$WORK_DIR/snapshot.err"; then
        fail "schema rerun over upstream tables changes nothing (snapshot)" "$WORK_DIR/snapshot.err"
        return
    fi
    if ! apply_schema "$url" upstream-rerun; then
        fail "schema rerun over upstream tables succeeds" "$WORK_DIR/upstream-rerun.err"
        return
    fi
    if ! snapshot "$url" >"$WORK_DIR/upstream.after" 2>"$WORK_DIR/snapshot.err"; then
        fail "schema rerun over upstream tables changes nothing (snapshot)" "$WORK_DIR/snapshot.err"
    elif [ -s "$WORK_DIR/upstream-rerun.err" ]; then
        fail "schema rerun over upstream tables prints no warnings" "$WORK_DIR/upstream-rerun.err"
    elif ! diff -u "$WORK_DIR/upstream.before" "$WORK_DIR/upstream.after" >"$WORK_DIR/upstream-rerun.diff"; then
        fail "schema rerun over upstream tables changes nothing" "$WORK_DIR/upstream-rerun.diff"
    else
        pass "schema rerun over upstream tables changes nothing"
    fi
}


# ---------------------------------------------------------------------------
# Case 3: run by a database owner that is not a superuser
# ---------------------------------------------------------------------------

check_non_superuser_owner() {
    local name=${SCRATCH_PREFIX}_owner url may_create_roles
    url=$(scratch_url "$name")

    may_create_roles=$(query "$SERVER_URL" \
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user" 2>/dev/null)
    if [ "$may_create_roles" != t ]; then
        printf 'skip schema applies as non-superuser owner (the URL user may not create roles)\n'
        return
    fi

    scratch_role=$SCRATCH_PREFIX
    if ! query "$SERVER_URL" "CREATE ROLE $scratch_role NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
                              GRANT $scratch_role TO current_user" >"$WORK_DIR/role.out" 2>&1 ||
        ! create_scratch_database "$name" --owner="$scratch_role" 2>>"$WORK_DIR/role.out"; then
        fail "schema applies as non-superuser owner (setup)" "$WORK_DIR/role.out"
        return
    fi

    # SET ROLE drops the superuser's rights for the rest of the session.
    if ! apply_schema "$url" owner -c "SET ROLE $scratch_role"; then
        fail "schema applies as non-superuser owner" "$WORK_DIR/owner.err"
        return
    fi
    check_queries "schema applies as non-superuser owner" "$url" "
        SELECT 'table ' || relname || ' is owned by ' || pg_get_userbyid(relowner)
        FROM pg_class
        WHERE relnamespace = current_schema()::regnamespace
          AND relkind = 'r'
          AND pg_get_userbyid(relowner) <> '$scratch_role';"

    dropdb --maintenance-db="$SERVER_URL" --if-exists "$name" 2>/dev/null
}


check_empty_database
check_upstream_database
check_non_superuser_owner

if [ "$failures" -gt 0 ]; then
    exit 1
fi
exit 0
