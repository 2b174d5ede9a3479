//! Feeds arbitrary text to the share-link parser: it must return an error, never panic, and
//! a link it accepts must be rebuilt into a link that parses to the same profile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiritus_proxy::links::ClientProfile;

fuzz_target!(|text: &str| {
    if let Ok(profile) = ClientProfile::parse_link(text) {
        let rebuilt = profile.to_link();
        let reparsed = ClientProfile::parse_link(&rebuilt);
        assert_eq!(reparsed, Ok(profile), "rebuilt link differs: {rebuilt}");
    }
});
