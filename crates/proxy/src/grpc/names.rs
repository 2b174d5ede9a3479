//! The one place that defines each core's protobuf package names: V2Ray prefixes them with
//! `v2ray.core.`, Xray with `xray.`.

use crate::settings::{CoreKind, Protocol};

/// Full protobuf names for one core kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtoNames {
    prefix: &'static str,
}

impl ProtoNames {
    pub fn for_kind(kind: CoreKind) -> Self {
        let prefix = match kind {
            CoreKind::V2ray => "v2ray.core.",
            CoreKind::Xray => "xray.",
        };
        Self { prefix }
    }

    /// `/PACKAGE.StatsService/METHOD`.
    pub fn stats_method(self, method: &str) -> String {
        format!("/{}app.stats.command.StatsService/{method}", self.prefix)
    }

    /// `/PACKAGE.HandlerService/METHOD`.
    pub fn handler_method(self, method: &str) -> String {
        format!(
            "/{}app.proxyman.command.HandlerService/{method}",
            self.prefix
        )
    }

    /// Full name of an `app.proxyman.command` message such as `AddUserOperation`.
    pub fn proxyman_message(self, message: &str) -> String {
        format!("{}app.proxyman.command.{message}", self.prefix)
    }

    /// Full name of the `Account` message of `protocol`.
    pub fn account(self, protocol: Protocol) -> String {
        format!("{}proxy.{}.Account", self.prefix, protocol.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_core_kind() {
        let v2ray = ProtoNames::for_kind(CoreKind::V2ray);
        let xray = ProtoNames::for_kind(CoreKind::Xray);

        assert_eq!(
            v2ray.stats_method("QueryStats"),
            "/v2ray.core.app.stats.command.StatsService/QueryStats"
        );
        assert_eq!(
            xray.handler_method("AlterInbound"),
            "/xray.app.proxyman.command.HandlerService/AlterInbound"
        );
        assert_eq!(
            v2ray.proxyman_message("AddUserOperation"),
            "v2ray.core.app.proxyman.command.AddUserOperation"
        );
        assert_eq!(
            v2ray.account(Protocol::Trojan),
            "v2ray.core.proxy.trojan.Account"
        );
        assert_eq!(
            xray.account(Protocol::Shadowsocks),
            "xray.proxy.shadowsocks.Account"
        );
    }
}
