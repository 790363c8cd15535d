#!/usr/bin/env bash
# The one test command (README, .ci/run): set up the machine, check formatting and
# lints, run every test, then smoke-run each benchmark against its anchor.
set -euo pipefail
cd "$(dirname "$0")"

./setup.sh
echo "test: cargo fmt --check"
cargo fmt --all -- --check
echo "test: cargo clippy"
cargo clippy --workspace --all-targets --release -- -D warnings
echo "test: cargo test"
cargo test --workspace --release
if [[ ${VPMD_NESTED_XEN:-0} = 1 ]]; then
  # Real netfront guests in nested Xen under TCG: minutes, so only on request.
  echo "test: nested Xen (scripts/nested-xen-test.sh)"
  scripts/nested-xen-test.sh
fi
echo "test: benchmark smoke runs (numbers are not judged here; see README, Benchmarks)"
cargo build --workspace --release --bins
cargo build --release -p vpmd-dpdk-plugin # librte_net_vpmd.so, for `vpmd-bench plugin`
bench=target/release/vpmd-bench
"$bench" --pairs 1 ring --items 2000000
"$bench" --pairs 1 mempool --ms 100
"$bench" --pairs 1 fwd-modes --secs 1
"$bench" --pairs 1 vhost-vs-dpdk --secs 4
"$bench" --pairs 1 plugin --secs 4
"$bench" --pairs 1 vhost-latency --secs 1 --rates 0.1
"$bench" --pairs 1 xen --secs 1 --sizes 64
echo "test: all passed"
