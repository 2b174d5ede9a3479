//! Second factors: TOTP, backup codes and passkeys; the challenge step of the login; the
//! enrolment policy; new-location detection; and the owner's recovery reset.
//!
//! The login flow is typed (see [`proof`]): a session opens only with a [`LoginProof`], which
//! only the password check, the challenge check and the factor checks can build.

mod account_admin;
mod challenge;
mod login;
mod passkeys;
mod policy;
pub mod proof;
pub mod qr;
mod totp;
mod verify;

pub use account_admin::AccountView;
pub use challenge::{CHALLENGE_TTL_SECONDS, SecondFactorChallenge};
pub use passkeys::{PasskeyRegistered, PasskeyView};
pub use policy::{MFA_POLICY_SETTING, PolicySource, SecurityPolicy};
pub use proof::{FactorMethod, LoginProof, PasswordChecked};
pub use totp::{BackupCodes, FactorOverview, TotpEnrolment};
