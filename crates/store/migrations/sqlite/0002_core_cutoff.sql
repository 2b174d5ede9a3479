-- Why and when the panel last cut a VPN user off the proxy core (quota reached or expired).
-- Cleared when the user is active again.
ALTER TABLE vpn_users ADD COLUMN cutoff_reason TEXT;
ALTER TABLE vpn_users ADD COLUMN cutoff_at BIGINT;
