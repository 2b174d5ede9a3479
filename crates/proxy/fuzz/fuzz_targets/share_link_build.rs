//! Builds share links and subscription documents from arbitrary remark and host strings:
//! building must never panic and every link must stay on one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiritus_proxy::links::share_links;
use spiritus_proxy::subscription::{SubscriptionFormat, render};
use spiritus_proxy::{ClientEndpoint, CoreSettings, CoreUser};

fuzz_target!(|input: (&str, &str, &str)| {
    let (remark, host, password) = input;
    let settings = CoreSettings::default();
    let user = CoreUser::new("fuzz-key", uuid_of(password), password);
    let endpoint = ClientEndpoint {
        host: host.to_owned(),
        remark: remark.to_owned(),
    };

    for link in share_links(&settings, &user, &endpoint) {
        assert!(!link.contains(['\n', '\r']), "link spans lines: {link:?}");
    }

    let profiles = spiritus_proxy::links::profiles_for(&settings, &user, &endpoint);
    for format in [
        SubscriptionFormat::Base64,
        SubscriptionFormat::SingBox,
        SubscriptionFormat::Clash,
    ] {
        assert!(render(&profiles, format).is_ok());
    }
});

fn uuid_of(text: &str) -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    for (slot, byte) in bytes.iter_mut().zip(text.bytes()) {
        *slot = byte;
    }
    uuid::Uuid::from_bytes(bytes)
}
