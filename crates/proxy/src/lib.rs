//! Drives a V2Ray or Xray proxy core for the panel.
//!
//! This crate owns everything the panel needs to know about the core: the JSON config it
//! reads ([`config`]), the share links and subscription documents clients import ([`links`],
//! [`subscription`]), the gRPC API for counters and live user changes ([`grpc`]), the child
//! process and its restarts ([`supervisor`]) and the access log ([`access_log`]).
//!
//! It takes plain values ([`CoreSettings`], [`CoreUser`], [`ClientEndpoint`]) and returns plain
//! values: it never touches the database or the HTTP server.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod bench_support;
pub mod config;
pub mod grpc;
pub mod links;
pub mod settings;
pub mod subscription;
pub mod supervisor;
pub mod validate;

pub use access_log::{AccessLine, AccessRecord, LogTail, ReconEvent, ReconWatcher, parse_line};
pub use config::{CoreConfig, generate};
pub use grpc::{ApiError, CoreApi, UserCounters};
pub use links::{ClientProfile, profiles_for, share_links};
pub use settings::{
    ClientEndpoint, CoreKind, CoreLogLevel, CoreSettings, CoreUser, InboundSettings, Protocol,
    RealityPrivateKey, ShadowsocksMethod, TlsSettings, Transport, UserPassword,
};
pub use subscription::{SubscriptionFormat, detect_format, render, userinfo_header};
pub use supervisor::{CoreState, CoreStatus, CoreSupervisor, SupervisorError, SupervisorOptions};
pub use validate::SettingsError;
