//! Protobuf messages of the core's gRPC API, written by hand from the upstream v2fly `.proto`
//! files. Field numbers must match those files, and Xray uses the same numbers unless noted.

/// `app/stats/command`: `QueryStatsRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryStatsRequest {
    #[prost(string, tag = "1")]
    pub pattern: String,
    #[prost(bool, tag = "2")]
    pub reset: bool,
}

/// `app/stats/command`: one named counter.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Stat {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int64, tag = "2")]
    pub value: i64,
}

/// `app/stats/command`: `QueryStatsResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryStatsResponse {
    #[prost(message, repeated, tag = "1")]
    pub stat: Vec<Stat>,
}

/// `app/stats/command`: `SysStatsRequest` (empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SysStatsRequest {}

/// `app/stats/command`: `SysStatsResponse`, the core's Go runtime figures.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SysStatsResponse {
    #[prost(uint32, tag = "1")]
    pub num_goroutine: u32,
    #[prost(uint32, tag = "2")]
    pub num_gc: u32,
    #[prost(uint64, tag = "3")]
    pub alloc: u64,
    #[prost(uint64, tag = "4")]
    pub total_alloc: u64,
    #[prost(uint64, tag = "5")]
    pub sys: u64,
    #[prost(uint64, tag = "6")]
    pub mallocs: u64,
    #[prost(uint64, tag = "7")]
    pub frees: u64,
    #[prost(uint64, tag = "8")]
    pub live_objects: u64,
    #[prost(uint64, tag = "9")]
    pub pause_total_ns: u64,
    #[prost(uint32, tag = "10")]
    pub uptime: u32,
}

/// `common/serial`: a serialized message with its full type name.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypedMessage {
    #[prost(string, tag = "1")]
    pub r#type: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `common/protocol`: a user of any protocol, with the protocol's account in `account`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct User {
    #[prost(uint32, tag = "1")]
    pub level: u32,
    #[prost(string, tag = "2")]
    pub email: String,
    #[prost(message, optional, tag = "3")]
    pub account: Option<TypedMessage>,
}

/// `app/proxyman/command`: `AddUserOperation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddUserOperation {
    #[prost(message, optional, tag = "1")]
    pub user: Option<User>,
}

/// `app/proxyman/command`: `RemoveUserOperation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoveUserOperation {
    #[prost(string, tag = "1")]
    pub email: String,
}

/// `app/proxyman/command`: `AlterInboundRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AlterInboundRequest {
    #[prost(string, tag = "1")]
    pub tag: String,
    #[prost(message, optional, tag = "2")]
    pub operation: Option<TypedMessage>,
}

/// `app/proxyman/command`: `AlterInboundResponse` (empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AlterInboundResponse {}

/// `proxy/vmess`: `Account` (`alter_id` is gone in Xray; 0 encodes as absent either way).
#[derive(Clone, PartialEq, prost::Message)]
pub struct VmessAccount {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(uint32, tag = "2")]
    pub alter_id: u32,
}

/// `proxy/vless`: `Account` in V2Ray (`encryption` is field 2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct V2rayVlessAccount {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub encryption: String,
}

/// `proxy/vless`: `Account` in Xray (field 2 is `flow`, `encryption` moved to 3).
#[derive(Clone, PartialEq, prost::Message)]
pub struct XrayVlessAccount {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub flow: String,
    #[prost(string, tag = "3")]
    pub encryption: String,
}

/// `proxy/trojan`: `Account`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TrojanAccount {
    #[prost(string, tag = "1")]
    pub password: String,
}

/// Xray `proxy/shadowsocks`: `Account`; `cipher_type` uses Xray's `CipherType` numbers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ShadowsocksAccount {
    #[prost(string, tag = "1")]
    pub password: String,
    #[prost(int32, tag = "2")]
    pub cipher_type: i32,
}
