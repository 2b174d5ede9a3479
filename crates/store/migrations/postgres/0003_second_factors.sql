-- Second factors: TOTP, backup codes, passkeys, and the addresses each account logged in from.
-- Secrets are stored sealed (TOTP) or as keyed hashes (backup codes), never in clear.

-- One row per account that started or finished TOTP enrolment. `secret` is the active secret
-- (AES-256-GCM sealed, bound to the account id); `pending_secret` waits for its first code.
-- `last_step` is the newest accepted time step: a code is accepted only for a later step,
-- checked and set by one conditional UPDATE.
CREATE TABLE account_totp (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret BYTEA,
    pending_secret BYTEA,
    enabled_at BIGINT,
    last_step BIGINT,
    updated_at BIGINT NOT NULL
);

-- Unused backup codes as HMAC-SHA256(server key, account id || code); a use deletes the row.
CREATE TABLE backup_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);

-- WebAuthn credentials; `credential` is the serialised public credential with its counter.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_account ON passkeys (account_id);

-- Addresses an account logged in from; a login from a new one is a new location.
CREATE TABLE account_known_ips (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    last_second_factor_at BIGINT,
    PRIMARY KEY (account_id, ip)
);
