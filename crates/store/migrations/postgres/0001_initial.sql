-- Times are unix milliseconds (BIGINT); flags are 0/1 BIGINT so one query text serves both
-- SQLite and PostgreSQL.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_folded TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'agent')),
    password_hash TEXT NOT NULL,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    suspended_at BIGINT,
    suspension_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_single_owner ON accounts (role) WHERE role = 'owner';

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE revocations (
    token_id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE vpn_users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_folded TEXT NOT NULL UNIQUE,
    owner_id TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    traffic_limit_bytes BIGINT NOT NULL,
    upload_bytes BIGINT NOT NULL DEFAULT 0,
    download_bytes BIGINT NOT NULL DEFAULT 0,
    expire_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    subscription_revision BIGINT NOT NULL DEFAULT 0,
    subscription_hash BYTEA NOT NULL UNIQUE,
    proxy_uuid TEXT NOT NULL UNIQUE,
    last_subscription_fetch BIGINT
);
CREATE INDEX vpn_users_created ON vpn_users (created_at, id);
CREATE INDEX vpn_users_expire ON vpn_users (expire_at, id);
CREATE INDEX vpn_users_owner ON vpn_users (owner_id);

CREATE TABLE core_counters (
    run_id TEXT NOT NULL,
    user_key TEXT NOT NULL,
    uplink BIGINT NOT NULL,
    downlink BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, user_key)
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The audit log: a hash chain whose entries are also the leaves of a Merkle tree.
CREATE TABLE audit_log (
    idx BIGINT PRIMARY KEY,
    time BIGINT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    ip TEXT,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    before_state TEXT,
    after_state TEXT,
    context TEXT,
    success BIGINT NOT NULL,
    error TEXT,
    prev_hash TEXT NOT NULL,
    hash BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_action ON audit_log (action, idx);
CREATE INDEX audit_log_actor ON audit_log (actor_id, idx);
CREATE INDEX audit_log_ip ON audit_log (ip, idx);

-- The size of the log and the hash of its newest entry; the row every append locks.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, size, last_hash) VALUES (1, 0, 'genesis');

CREATE TABLE audit_tree_heads (
    tree_size BIGINT PRIMARY KEY,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Signed checkpoints left behind by retention pruning; the newest one anchors the log.
CREATE TABLE audit_checkpoints (
    pruned_size BIGINT PRIMARY KEY,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
