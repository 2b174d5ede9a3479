//! Client for the core's gRPC API on its loopback port: per-user traffic counters
//! (`StatsService`) and live user changes (`HandlerService.AlterInbound`).
//!
//! Messages are written by hand with prost ([`messages`]); the protobuf package names differ
//! between V2Ray and Xray and live in [`names`] only. Every call has a timeout.

mod counters;
pub mod messages;
pub mod names;

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use thiserror::Error;
use tonic::client::Grpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

pub use counters::{UserCounters, user_counters};
use messages::{
    AddUserOperation, AlterInboundRequest, AlterInboundResponse, QueryStatsRequest,
    QueryStatsResponse, RemoveUserOperation, ShadowsocksAccount, Stat, SysStatsRequest,
    SysStatsResponse, TrojanAccount, TypedMessage, User, V2rayVlessAccount, VmessAccount,
    XrayVlessAccount,
};
pub use names::ProtoNames;

use crate::settings::{CoreKind, CoreUser, InboundSettings, Protocol, ShadowsocksMethod};

/// Largest response accepted: 100,000 users × 2 counters is about 10 MB; 64 MiB leaves room.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Default time allowed for one call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Failures of API calls.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("core API address {0:?} is not a valid URI")]
    BadAddress(String),
    #[error("core API is not reachable; is the core running with its api inbound?")]
    Unreachable(#[source] tonic::transport::Error),
    #[error("core API call {method} did not answer within {timeout:?}")]
    Timeout { method: String, timeout: Duration },
    #[error("core API call {method} failed: {status}")]
    Status {
        method: String,
        #[source]
        status: Box<tonic::Status>,
    },
    #[error("core API call path {0:?} is not valid")]
    BadPath(String),
}

/// A connection to one core's API.
#[derive(Clone)]
pub struct CoreApi {
    channel: Channel,
    names: ProtoNames,
    timeout: Duration,
}

impl CoreApi {
    /// Client for the API on `127.0.0.1:api_port`; connects on first use.
    pub fn loopback(kind: CoreKind, api_port: u16) -> Result<Self, ApiError> {
        Self::with_address(
            kind,
            &format!("http://127.0.0.1:{api_port}"),
            DEFAULT_CALL_TIMEOUT,
        )
    }

    /// Client for the API at `address` (`http://host:port`); connects on first use.
    pub fn with_address(
        kind: CoreKind,
        address: &str,
        timeout: Duration,
    ) -> Result<Self, ApiError> {
        let endpoint = Endpoint::from_shared(address.to_owned())
            .map_err(|_| ApiError::BadAddress(address.to_owned()))?
            .connect_timeout(timeout)
            .timeout(timeout);

        Ok(Self {
            channel: endpoint.connect_lazy(),
            names: ProtoNames::for_kind(kind),
            timeout,
        })
    }

    /// Queries all counters whose name contains `pattern`; `reset` zeroes them after reading.
    pub async fn query_stats(&self, pattern: &str, reset: bool) -> Result<Vec<Stat>, ApiError> {
        let request = QueryStatsRequest {
            pattern: pattern.to_owned(),
            reset,
        };

        let response: QueryStatsResponse = self
            .call(self.names.stats_method("QueryStats"), request)
            .await?;
        Ok(response.stat)
    }

    /// Queries per-user traffic counters, keyed by user key.
    pub async fn user_counters(
        &self,
        reset: bool,
    ) -> Result<HashMap<String, UserCounters>, ApiError> {
        let stats = self.query_stats("user>>>", reset).await?;
        Ok(user_counters(&stats))
    }

    /// Queries the core's runtime figures (also a cheap liveness probe).
    pub async fn sys_stats(&self) -> Result<SysStatsResponse, ApiError> {
        self.call(self.names.stats_method("GetSysStats"), SysStatsRequest {})
            .await
    }

    /// Adds `user` to the inbound tagged `inbound.tag()` while the core runs.
    pub async fn add_user(
        &self,
        inbound: &InboundSettings,
        user: &CoreUser,
    ) -> Result<(), ApiError> {
        let account = self.account(inbound, user);
        let operation = AddUserOperation {
            user: Some(User {
                level: 0,
                email: user.key.clone(),
                account: Some(account),
            }),
        };

        self.alter_inbound(inbound.tag(), "AddUserOperation", operation.encode_to_vec())
            .await
    }

    /// Removes the user of `key` from the inbound `tag`. The core returns an error when the
    /// user is not in that inbound.
    pub async fn remove_user(&self, tag: &str, key: &str) -> Result<(), ApiError> {
        let operation = RemoveUserOperation {
            email: key.to_owned(),
        };

        self.alter_inbound(
            tag.to_owned(),
            "RemoveUserOperation",
            operation.encode_to_vec(),
        )
        .await
    }

    async fn alter_inbound(
        &self,
        tag: String,
        operation: &str,
        bytes: Vec<u8>,
    ) -> Result<(), ApiError> {
        let request = AlterInboundRequest {
            tag,
            operation: Some(TypedMessage {
                r#type: self.names.proxyman_message(operation),
                value: bytes,
            }),
        };

        let _: AlterInboundResponse = self
            .call(self.names.handler_method("AlterInbound"), request)
            .await?;
        Ok(())
    }

    fn account(&self, inbound: &InboundSettings, user: &CoreUser) -> TypedMessage {
        let id = user.uuid.to_string();
        let xray = self.names == ProtoNames::for_kind(CoreKind::Xray);

        let value = match inbound.protocol {
            Protocol::Vmess => VmessAccount { id, alter_id: 0 }.encode_to_vec(),
            Protocol::Vless if xray => XrayVlessAccount {
                id,
                flow: String::new(),
                encryption: "none".to_owned(),
            }
            .encode_to_vec(),
            Protocol::Vless => V2rayVlessAccount {
                id,
                encryption: "none".to_owned(),
            }
            .encode_to_vec(),
            Protocol::Trojan => TrojanAccount {
                password: user.password.expose().to_owned(),
            }
            .encode_to_vec(),
            Protocol::Shadowsocks => ShadowsocksAccount {
                password: user.password.expose().to_owned(),
                cipher_type: xray_cipher_type(inbound.shadowsocks_method),
            }
            .encode_to_vec(),
        };

        TypedMessage {
            r#type: self.names.account(inbound.protocol),
            value,
        }
    }

    async fn call<Req, Resp>(&self, method: String, request: Req) -> Result<Resp, ApiError>
    where
        Req: Message + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static,
    {
        let path = PathAndQuery::from_maybe_shared(method.clone())
            .map_err(|_| ApiError::BadPath(method.clone()))?;
        let mut grpc = Grpc::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES);

        let exchange = async {
            grpc.ready().await.map_err(ApiError::Unreachable)?;
            grpc.unary(
                tonic::Request::new(request),
                path,
                ProstCodec::<Req, Resp>::default(),
            )
            .await
            .map_err(|status| ApiError::Status {
                method: method.clone(),
                status: Box::new(status),
            })
        };

        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => Ok(result?.into_inner()),
            Err(_) => Err(ApiError::Timeout {
                method,
                timeout: self.timeout,
            }),
        }
    }
}

/// Xray's `CipherType` numbers for the AEAD ciphers.
fn xray_cipher_type(method: ShadowsocksMethod) -> i32 {
    match method {
        ShadowsocksMethod::Aes128Gcm => 5,
        ShadowsocksMethod::Aes256Gcm => 6,
        ShadowsocksMethod::Chacha20IetfPoly1305 => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_user_operation_encodes_the_upstream_field_numbers() {
        let operation = AddUserOperation {
            user: Some(User {
                level: 0,
                email: "k".to_owned(),
                account: Some(TypedMessage {
                    r#type: "t".to_owned(),
                    value: vec![0x0a, 0x01, b'x'],
                }),
            }),
        };

        // field 1 (user) → { field 2 (email) "k", field 3 (account) → { 1: "t", 2: bytes } }
        let expected = [
            0x0a, 0x0d, 0x12, 0x01, b'k', 0x1a, 0x08, 0x0a, 0x01, b't', 0x12, 0x03, 0x0a, 0x01,
            b'x',
        ];
        assert_eq!(operation.encode_to_vec(), expected);
    }

    #[tokio::test]
    async fn unreachable_api_is_an_error_not_a_hang() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);

        let api = CoreApi::with_address(
            CoreKind::V2ray,
            &format!("http://127.0.0.1:{port}"),
            Duration::from_millis(500),
        )
        .unwrap();

        assert!(api.user_counters(false).await.is_err());
    }
}
