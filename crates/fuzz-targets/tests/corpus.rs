//! Runs every fuzz target on stable Rust: the seed corpus under `fuzz/corpus/<target>/`,
//! deterministic mutations of each seed, and random inputs. A panic in any target fails the
//! test and names the target and the input (in hex), which then belongs in the corpus.
#![allow(clippy::unwrap_used, clippy::panic, reason = "a test fails loudly")]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use proptest::collection::vec;
use proptest::prelude::*;
use spiritus_fuzz_targets::{TARGETS, Target};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reads the checked-in seeds of a target, plus the real sops files for the sops target.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut folders = vec![repository().join("fuzz/corpus").join(target)];
    if target == "sops_document" {
        folders.push(repository().join("testdata/sops"));
    }
    let mut seeds = Vec::new();
    for folder in folders {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            let is_seed = path.is_file()
                && (target != "sops_document"
                    || path
                        .extension()
                        .is_some_and(|ext| ext == "yaml" || ext == "json"));
            if is_seed {
                seeds.push(std::fs::read(&path).unwrap());
            }
        }
    }
    seeds
}

/// Truncations, byte flips and a doubling of one seed; deterministic, so a failure repeats.
fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let len = seed.len();
    for cut in [0, 1, len / 3, len / 2, len.saturating_sub(1)] {
        out.push(seed[..cut.min(len)].to_vec());
    }
    let step = (len / 16).max(1);
    for position in (0..len).step_by(step) {
        for byte in [0x00, 0xff, b'"', b'{', b'\n', b':', b'#', b'%'] {
            let mut mutated = seed.to_vec();
            mutated[position] = byte;
            out.push(mutated);
        }
    }
    out.push([seed, seed].concat());
    out
}

fn run(name: &str, target: Target, input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        let hex: String = input.iter().map(|byte| format!("{byte:02x}")).collect();
        panic!("fuzz target {name} panicked on input {hex}");
    }
}

#[test]
fn every_target_has_seeds() {
    for (name, _) in TARGETS {
        assert!(!seeds(name).is_empty(), "fuzz/corpus/{name}/ holds no seed");
    }
}

#[test]
fn seeds_and_their_mutations_never_break_a_target() {
    for (name, target) in TARGETS {
        for seed in seeds(name) {
            run(name, *target, &seed);
            for mutated in mutations(&seed) {
                run(name, *target, &mutated);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_break_a_target(data in vec(any::<u8>(), 0..400)) {
        for (name, target) in TARGETS {
            run(name, *target, &data);
        }
    }

    #[test]
    fn random_text_never_breaks_a_target(data in "\\PC{0,200}") {
        for (name, target) in TARGETS {
            run(name, *target, data.as_bytes());
        }
    }
}
