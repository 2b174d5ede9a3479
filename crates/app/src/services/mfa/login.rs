//! The second step of a login: a challenge and a TOTP or backup code.

use super::challenge::Stage;
use super::proof::LoginProof;
use crate::actor::RequestContext;
use crate::error::AppError;
use crate::services::auth::TokenPair;
use crate::state::App;

impl App {
    /// Takes the challenge, checks the code against its account and opens the session.
    ///
    /// The challenge is used up by this call whatever the outcome, so a wrong code means
    /// logging in with the password again. Every attempt counts toward the account's
    /// second-factor limit.
    pub async fn login_second_factor(
        &self,
        challenge: &str,
        code: &str,
        request: &RequestContext,
    ) -> Result<TokenPair, AppError> {
        let (pending, _) = self
            .take_challenge_record(Stage::Login, challenge, request)
            .await?;
        self.count_second_factor_attempt(pending.account(), request)
            .await?;
        let factor = self.check_code(pending.account(), code, request).await?;
        self.clear_second_factor_attempts(pending.account()).await;
        let proof = LoginProof::with_factor(pending, factor)?;
        self.open_session(proof, request).await
    }
}
