#!/usr/bin/env bash
# run.sh: the README's first command. Installs what is missing (Debian packages, Rust), builds
# the workspace in release mode, then runs the main job on an embedded default: the load
# generator's closed-loop RPC test against an engine echo server, both in this process over an
# in-process net_ring pair (client stack on one CPU, server stack on another), for a few
# seconds, and prints the result table (requests/s, latency percentiles, counters).
#
# No NIC and no configuration are needed. Arguments replace the default ones, e.g.
#   ./run.sh                      loadgen rpc (16 connections, 64-byte requests, 5 s)
#   ./run.sh churn                connections/s instead
#   ./run.sh rpc --stack kernel   the same test over Linux sockets, for comparison
#   ./run.sh rpc --help           every option
set -euo pipefail

cd "$(dirname "$0")"
DEPS_WHO=run.sh
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

ensure_deps build

printf 'run.sh: building (release)\n' >&2
cargo build --release --quiet -p apps --bin loadgen --bin serve

if [ $# -eq 0 ]; then
    set -- rpc
fi
exec ./target/release/loadgen "$@"
