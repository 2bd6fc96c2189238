#!/usr/bin/env bash
# test.sh: the README's second command. Installs what is missing (Debian packages, Rust with
# rustfmt and clippy), then runs every check: formatting, clippy with warnings as errors, and
# the whole test suite (cargo nextest when installed, else cargo test). Every check runs even if
# an earlier one failed; the exit status is non-zero if any failed.
#
# Usage (as root; the kernel-peer tests create taps and network namespaces): ./test.sh
set -uo pipefail

cd "$(dirname "$0")" || exit 1
DEPS_WHO=test.sh
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

log() { printf 'test.sh: %s\n' "$*" >&2; }

ensure_deps lint || exit 1

# Namespaces that kernel-peer tests killed mid-run (SIGKILL skips their clean-up) left behind:
# engt<pid in hex>x<n>, removed when that process no longer exists.
for ns in $(ip netns list 2>/dev/null | awk '/^engt[0-9a-f]+x[0-9]+/ {print $1}'); do
    pid_hex=${ns#engt}
    pid_hex=${pid_hex%%x*}
    if [ ! -d "/proc/$((16#$pid_hex))" ]; then
        ip netns del "$ns" 2>/dev/null && log "removed stale namespace $ns"
    fi
done

failed=()
step() {
    local name=$1
    shift
    log "== $name: $*"
    local start=$SECONDS
    if "$@"; then
        log "== $name: ok ($((SECONDS - start)) s)"
    else
        log "== $name: FAILED ($((SECONDS - start)) s)"
        failed+=("$name")
    fi
}

step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets --quiet -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    step tests cargo nextest run --workspace --no-fail-fast
else
    log "cargo-nextest is not installed: running the suite with cargo test"
    step tests cargo test --workspace --no-fail-fast
fi

if [ ${#failed[@]} -ne 0 ]; then
    log "FAILED: ${failed[*]}"
    exit 1
fi
log "all checks passed"
