-- Blocked client addresses, kept durably beside the ephemeral store's copy so a block
-- survives a restart of the panel or of Redis, and so the firewall export and the command
-- line see every block. Times are unix milliseconds.
CREATE TABLE ip_blocks (
    ip TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ip_blocks_expires ON ip_blocks (expires_at);
