//! Second factors end to end: TOTP, backup codes, passkeys, step-up, policy and recovery.

mod passkeys;
mod policy;
mod support;
mod totp;
