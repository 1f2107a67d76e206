-- Demo data for `make run`: one organization, a gateway on loopback, a board,
-- its lead agent, a webhook whose secret comes from the psql variable
-- webhook_secret, and the local-mode user as the organization's owner. Running it again keeps the rows and updates the secret.
-- Usage: psql -v ON_ERROR_STOP=1 -v webhook_secret=... -f sql/demo-seed.sql

\set organization_id '''0b3c4d5e-0000-4000-8000-000000000001'''
\set gateway_id '''0b3c4d5e-0000-4000-8000-000000000002'''
\set board_id '''0b3c4d5e-0000-4000-8000-000000000003'''
\set agent_id '''0b3c4d5e-0000-4000-8000-000000000004'''
\set webhook_id '''0b3c4d5e-0000-4000-8000-000000000005'''
\set user_id '''0b3c4d5e-0000-4000-8000-000000000006'''
\set member_id '''0b3c4d5e-0000-4000-8000-000000000007'''

BEGIN;

INSERT INTO organizations (id, name, created_at, updated_at)
VALUES (:organization_id, 'Demo organization', now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')
ON CONFLICT (id) DO NOTHING;

INSERT INTO gateways (id, organization_id, name, url, token, disable_device_pairing,
                      workspace_root, allow_insecure_tls, created_at, updated_at)
VALUES (:gateway_id, :organization_id, 'Demo gateway', 'ws://127.0.0.1:18789', NULL, false,
        '/tmp/openclaw-demo', false, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')
ON CONFLICT (id) DO NOTHING;

INSERT INTO boards (id, organization_id, name, slug, description, gateway_id, created_at, updated_at)
VALUES (:board_id, :organization_id, 'Demo board', 'demo-board', 'Board for trying webhooks',
        :gateway_id, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')
ON CONFLICT (id) DO NOTHING;

INSERT INTO agents (id, board_id, gateway_id, name, status, openclaw_session_id, is_board_lead,
                    created_at, updated_at)
VALUES (:agent_id, :board_id, :gateway_id, 'Demo lead agent', 'online', 'agent:main:demo-lead', true,
        now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')
ON CONFLICT (id) DO NOTHING;

INSERT INTO board_webhooks (id, board_id, agent_id, description, enabled, secret, signature_header,
                            created_at, updated_at)
VALUES (:webhook_id, :board_id, NULL, 'Triage incoming GitHub events for the demo board.', true,
        :'webhook_secret', NULL, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')
ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret, enabled = true,
                               updated_at = EXCLUDED.updated_at;

-- The user that AUTH_MODE=local maps LOCAL_AUTH_TOKEN to, so the demo can
-- send a message through gateway-message.
INSERT INTO users (id, clerk_user_id, email, name, is_super_admin, active_organization_id)
VALUES (:user_id, 'local-auth-user', 'admin@localhost', 'Local admin', false, :organization_id)
ON CONFLICT DO NOTHING;

-- The user may already exist under another id, so the membership names it
-- by clerk_user_id.
INSERT INTO organization_members (id, organization_id, user_id, role, all_boards_read,
                                  all_boards_write, created_at, updated_at)
SELECT :member_id, :organization_id, users.id, 'owner', true, true,
       now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc'
FROM users WHERE users.clerk_user_id = 'local-auth-user'
ON CONFLICT DO NOTHING;

COMMIT;
