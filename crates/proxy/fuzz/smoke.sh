#!/usr/bin/env bash
# Runs each fuzz target of spiritus-proxy for a short time (default 20 s each).
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 allows them on stable.
# Usage: crates/proxy/fuzz/smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/spiritus-target-proxy-fuzz}"
for target in share_link_parse share_link_build access_log_line; do
    cargo fuzz run "$target" -- -max_total_time="$seconds" -max_len=4096
done
