//! Who is acting: the authenticated principal and the request it came with.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use spiritus_audit::entry::{ACTOR_ANONYMOUS, ACTOR_SYSTEM, AuditDraft};
use spiritus_core::account::{Account, Role};
use spiritus_store::AuditRecordExt;
use uuid::Uuid;

use crate::error::AppError;

/// Facts about the request an operation came with, for audit entries and security events.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    /// The client certificate that authenticated the connection (subject and SHA-256
    /// fingerprint), when mutual TLS is on.
    pub client_certificate: Option<Value>,
}

impl RequestContext {
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            user_agent: None,
            client_certificate: None,
        }
    }

    /// A context for commands run on the server itself.
    pub fn local() -> Self {
        Self::new(IpAddr::from([127, 0, 0, 1]))
    }

    fn audit_context(&self) -> Option<Value> {
        let mut context = serde_json::Map::new();
        if let Some(agent) = &self.user_agent {
            let shortened: String = agent.chars().take(256).collect();
            context.insert("user_agent".into(), Value::String(shortened));
        }
        if let Some(certificate) = &self.client_certificate {
            context.insert("client_certificate".into(), certificate.clone());
        }
        (!context.is_empty()).then_some(Value::Object(context))
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: Account,
    pub session_id: Uuid,
    pub token_id: Uuid,
    pub token_expires_at: DateTime<Utc>,
    /// The policy requires a second factor this account has not enrolled yet.
    pub enrolment_required: bool,
}

impl Principal {
    pub fn id(&self) -> Uuid {
        self.account.id
    }

    pub fn role(&self) -> Role {
        self.account.role
    }

    /// Refuses every call but the password change while a change is pending, and every call
    /// but enrolment while a required second factor is missing.
    pub fn require_ready(&self) -> Result<(), AppError> {
        self.require_password_changed()?;
        if self.enrolment_required {
            return Err(AppError::EnrolmentRequired);
        }
        Ok(())
    }

    /// Refuses every call but the password change while a change is pending; second-factor
    /// enrolment uses this check, so an account the policy holds can still enrol.
    pub fn require_password_changed(&self) -> Result<(), AppError> {
        if self.account.must_change_password {
            return Err(AppError::PasswordChangeRequired);
        }
        Ok(())
    }

    /// Agents only see their own VPN users; owners and admins see all.
    pub fn user_scope(&self) -> Option<Uuid> {
        (!self.account.role.sees_all_users()).then_some(self.account.id)
    }

    pub fn require_owner(&self) -> Result<(), AppError> {
        if self.account.role != Role::Owner {
            return Err(AppError::Forbidden("only the owner may do this".into()));
        }
        Ok(())
    }
}

/// Who an audit entry names as the actor.
#[derive(Debug, Clone)]
pub enum Actor {
    /// An authenticated account acting through a request.
    Account {
        principal: Box<Principal>,
        request: RequestContext,
    },
    /// Someone not (yet) authenticated, such as a login attempt.
    Anonymous { request: RequestContext },
    /// The panel itself: quota enforcement, pruning, first-start setup.
    System,
    /// An operator at the server's command line.
    Console,
}

impl Actor {
    pub fn account(principal: &Principal, request: &RequestContext) -> Self {
        Actor::Account {
            principal: Box::new(principal.clone()),
            request: request.clone(),
        }
    }

    /// Refuses accounts that must change their password first; other actors are ready.
    pub fn require_ready(&self) -> Result<(), AppError> {
        match self {
            Actor::Account { principal, .. } => principal.require_ready(),
            _ => Ok(()),
        }
    }

    /// The VPN users this actor may see: an agent's own, or all.
    pub fn user_scope(&self) -> Option<Uuid> {
        match self {
            Actor::Account { principal, .. } => principal.user_scope(),
            _ => None,
        }
    }

    pub fn request(&self) -> Option<&RequestContext> {
        match self {
            Actor::Account { request, .. } | Actor::Anonymous { request } => Some(request),
            Actor::System | Actor::Console => None,
        }
    }

    pub fn id(&self) -> String {
        match self {
            Actor::Account { principal, .. } => principal.id().to_string(),
            Actor::Anonymous { .. } => ACTOR_ANONYMOUS.into(),
            Actor::System => ACTOR_SYSTEM.into(),
            Actor::Console => "console".into(),
        }
    }

    pub fn role(&self) -> &'static str {
        match self {
            Actor::Account { principal, .. } => principal.role().as_str(),
            Actor::Anonymous { .. } => "anonymous",
            Actor::System => "system",
            Actor::Console => "console",
        }
    }

    /// Starts an audit record for an action by this actor.
    pub fn audit(&self, now: DateTime<Utc>, action: &str, resource_type: &str) -> AuditDraft {
        let mut draft = AuditDraft::new(now, self.id(), self.role(), action, resource_type)
            .with_ip(self.request().map(|request| request.ip.to_string()));
        if let Some(context) = self.request().and_then(RequestContext::audit_context) {
            draft = draft.with_context(context);
        }
        if let Actor::Account { principal, .. } = self {
            let mut context = draft.context.take().unwrap_or_else(|| json!({}));
            if let Some(object) = context.as_object_mut() {
                object.insert("session_id".into(), json!(principal.session_id));
            }
            draft.context = Some(context);
        }
        draft
    }
}
