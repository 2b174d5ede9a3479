//! A stand-in for the core's gRPC API, served by tonic on a loopback port, and a measurement
//! of one stats round (query + parse) against it for many users.
//!
//! The workspace benchmark binary and `benches/stats_round.rs` call [`measure_stats_round`];
//! unit tests use [`FakeCoreApi`] to see exactly what the client sends.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::Grpc;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use crate::grpc::messages::{
    AlterInboundRequest, AlterInboundResponse, QueryStatsRequest, QueryStatsResponse, Stat,
    SysStatsRequest, SysStatsResponse,
};
use crate::grpc::{ApiError, CoreApi, MAX_MESSAGE_BYTES};
use crate::settings::CoreKind;

/// Failures while starting or measuring against the stand-in server.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BenchError {
    #[error("could not bind a loopback port for the stand-in core API")]
    Bind(#[source] std::io::Error),
    #[error("stats round against the stand-in core API failed")]
    Api(#[from] ApiError),
}

/// A running stand-in API: serves `QueryStats` from a fixed counter list and `GetSysStats`,
/// and records every `AlterInbound` request it receives. Stops when dropped.
pub struct FakeCoreApi {
    address: SocketAddr,
    alterations: Arc<Mutex<Vec<AlterInboundRequest>>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl FakeCoreApi {
    /// Serves `stats` on a free loopback port, under both V2Ray's and Xray's service names.
    pub async fn start(stats: Vec<Stat>) -> Result<Self, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(BenchError::Bind)?;
        let address = listener.local_addr().map_err(BenchError::Bind)?;

        let alterations = Arc::new(Mutex::new(Vec::new()));
        let service = FakeService {
            stats: Arc::new(stats),
            alterations: Arc::clone(&alterations),
        };

        let (shutdown, signal) = oneshot::channel::<()>();
        let incoming = TcpIncoming::from(listener);
        let task = tokio::spawn(async move {
            let served = Server::builder()
                .serve_with_incoming_shutdown(service, incoming, async {
                    let _ = signal.await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "stand-in core API stopped with an error");
            }
        });

        Ok(Self {
            address,
            alterations,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// `http://127.0.0.1:PORT` for [`CoreApi::with_address`].
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Returns the `AlterInbound` requests received so far.
    pub fn alterations(&self) -> Vec<AlterInboundRequest> {
        self.alterations
            .lock()
            .map(|list| list.clone())
            .unwrap_or_default()
    }
}

impl Drop for FakeCoreApi {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.task.abort();
    }
}

#[derive(Clone)]
struct FakeService {
    stats: Arc<Vec<Stat>>,
    alterations: Arc<Mutex<Vec<AlterInboundRequest>>>,
}

impl Service<http::Request<Body>> for FakeService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let method = request
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_owned();
        let service = self.clone();

        Box::pin(async move {
            let response = match method.as_str() {
                "QueryStats" => {
                    let mut grpc =
                        Grpc::new(ProstCodec::<QueryStatsResponse, QueryStatsRequest>::default())
                            .max_encoding_message_size(MAX_MESSAGE_BYTES);
                    grpc.unary(QueryHandler(service.stats), request).await
                }
                "GetSysStats" => {
                    let mut grpc =
                        Grpc::new(ProstCodec::<SysStatsResponse, SysStatsRequest>::default());
                    grpc.unary(SysHandler, request).await
                }
                "AlterInbound" => {
                    let mut grpc = Grpc::new(
                        ProstCodec::<AlterInboundResponse, AlterInboundRequest>::default(),
                    );
                    grpc.unary(AlterHandler(service.alterations), request).await
                }
                _ => Status::unimplemented("the stand-in core API does not serve this method")
                    .into_http(),
            };
            Ok(response)
        })
    }
}

struct QueryHandler(Arc<Vec<Stat>>);

impl Service<Request<QueryStatsRequest>> for QueryHandler {
    type Response = Response<QueryStatsResponse>;
    type Error = Status;
    type Future = Ready<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<QueryStatsRequest>) -> Self::Future {
        let pattern = request.into_inner().pattern;
        let stat = self
            .0
            .iter()
            .filter(|stat| stat.name.contains(&pattern))
            .cloned()
            .collect();
        ready(Ok(Response::new(QueryStatsResponse { stat })))
    }
}

struct SysHandler;

impl Service<Request<SysStatsRequest>> for SysHandler {
    type Response = Response<SysStatsResponse>;
    type Error = Status;
    type Future = Ready<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<SysStatsRequest>) -> Self::Future {
        ready(Ok(Response::new(SysStatsResponse {
            uptime: 1,
            ..SysStatsResponse::default()
        })))
    }
}

struct AlterHandler(Arc<Mutex<Vec<AlterInboundRequest>>>);

impl Service<Request<AlterInboundRequest>> for AlterHandler {
    type Response = Response<AlterInboundResponse>;
    type Error = Status;
    type Future = Ready<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<AlterInboundRequest>) -> Self::Future {
        match self.0.lock() {
            Ok(mut list) => list.push(request.into_inner()),
            Err(_) => return ready(Err(Status::internal("stand-in state is poisoned"))),
        }
        ready(Ok(Response::new(AlterInboundResponse {})))
    }
}

/// Uplink and downlink counters for `users` users named `user-N`.
pub fn synthetic_user_stats(users: usize) -> Vec<Stat> {
    (0..users)
        .flat_map(|n| {
            let value = i64::try_from(n).unwrap_or(i64::MAX);
            [
                Stat {
                    name: format!("user>>>user-{n}>>>traffic>>>uplink"),
                    value,
                },
                Stat {
                    name: format!("user>>>user-{n}>>>traffic>>>downlink"),
                    value: value.saturating_mul(10),
                },
            ]
        })
        .collect()
}

/// One measured stats round.
#[derive(Debug, Clone, Serialize)]
pub struct StatsRoundReport {
    pub users: usize,
    /// Users found in the parsed response (equals `users` when all went well).
    pub parsed_users: usize,
    /// Time for the `QueryStats` call, response decoded.
    pub query_micros: u128,
    /// Time to turn the counters into per-user values.
    pub parse_micros: u128,
    pub total_micros: u128,
}

/// Starts a stand-in API with counters for `users` users and measures one
/// `QueryStats` round plus parsing, after one warm-up call that opens the connection.
pub async fn measure_stats_round(users: usize) -> Result<StatsRoundReport, BenchError> {
    let server = FakeCoreApi::start(synthetic_user_stats(users)).await?;
    let api = CoreApi::with_address(CoreKind::V2ray, &server.url(), Duration::from_secs(60))?;
    api.sys_stats().await?;

    let started = Instant::now();
    let stats = api.query_stats("user>>>", false).await?;
    let queried = Instant::now();
    let counters = crate::grpc::user_counters(&stats);
    let parsed = Instant::now();

    Ok(StatsRoundReport {
        users,
        parsed_users: counters.len(),
        query_micros: queried.duration_since(started).as_micros(),
        parse_micros: parsed.duration_since(queried).as_micros(),
        total_micros: parsed.duration_since(started).as_micros(),
    })
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use uuid::Uuid;

    use super::*;
    use crate::grpc::messages::{AddUserOperation, RemoveUserOperation, TrojanAccount};
    use crate::settings::{CoreUser, InboundSettings, Protocol};

    #[tokio::test]
    async fn stats_round_parses_every_user() {
        let report = measure_stats_round(1_000).await.unwrap();

        assert_eq!(report.parsed_users, 1_000);
    }

    #[tokio::test]
    async fn add_user_sends_typed_account_for_the_protocol() {
        let server = FakeCoreApi::start(Vec::new()).await.unwrap();
        let api =
            CoreApi::with_address(CoreKind::V2ray, &server.url(), Duration::from_secs(5)).unwrap();
        let inbound = InboundSettings::tcp(Protocol::Trojan, 10088);
        let user = CoreUser::new("key-1", Uuid::nil(), "pw");

        api.add_user(&inbound, &user).await.unwrap();
        api.remove_user("trojan-tcp-10088", "key-1").await.unwrap();

        let calls = server.alterations();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].tag, "trojan-tcp-10088");

        let add = calls[0].operation.clone().unwrap();
        assert_eq!(
            add.r#type,
            "v2ray.core.app.proxyman.command.AddUserOperation"
        );
        let user = AddUserOperation::decode(add.value.as_slice())
            .unwrap()
            .user
            .unwrap();
        assert_eq!(user.email, "key-1");
        let account = user.account.unwrap();
        assert_eq!(account.r#type, "v2ray.core.proxy.trojan.Account");
        assert_eq!(
            TrojanAccount::decode(account.value.as_slice())
                .unwrap()
                .password,
            "pw"
        );

        let remove = calls[1].operation.clone().unwrap();
        assert_eq!(
            remove.r#type,
            "v2ray.core.app.proxyman.command.RemoveUserOperation"
        );
        assert_eq!(
            RemoveUserOperation::decode(remove.value.as_slice())
                .unwrap()
                .email,
            "key-1"
        );
    }
}
