#!/usr/bin/env bash
# run.sh: the README's first command. Installs what is missing (Debian packages, Rust), builds
# the workspace in release mode, then runs the main job on an embedded default.
#
# The main job today: `serve` on a net_tap inside a private network namespace, pinged by the
# Linux kernel, its counters printed at the end (see `main_job`). Everything it creates (the
# namespace, the tap inside it, the serve process) is removed on exit, on failure and on Ctrl-C.
#
# Usage (as root): ./run.sh            Environment: PINGS (default 20).
set -euo pipefail

cd "$(dirname "$0")"
DEPS_WHO=run.sh
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

log() { printf 'run.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Clean-up of whatever the main job started: registered as it goes, run once on any exit.
# ---------------------------------------------------------------------------------------------
NETNS=""
SERVE_PID=""
WORKDIR=""

# Stops serve with SIGINT (it prints its counters), then SIGKILL if it does not exit in 10 s.
stop_serve() {
    [ -n "$SERVE_PID" ] || return 0
    if kill -0 "$SERVE_PID" 2>/dev/null; then
        kill -INT "$SERVE_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$SERVE_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVE_PID" 2>/dev/null; then
            log "serve did not stop on SIGINT within 10 s: killing it"
            kill -KILL "$SERVE_PID" 2>/dev/null || true
        fi
    fi
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=""
}

# Prints the counters serve wrote at exit (once), and anything it said on stderr.
COUNTERS_SHOWN=""
show_counters() {
    [ -z "$COUNTERS_SHOWN" ] && [ -n "$WORKDIR" ] && [ -f "$WORKDIR/serve.out" ] || return 0
    COUNTERS_SHOWN=1
    echo
    echo "serve's counters:"
    grep -v '^serve: ' "$WORKDIR/serve.out" || true
    if [ -s "$WORKDIR/serve.err" ]; then
        log "serve's stderr:"
        cat "$WORKDIR/serve.err" >&2
    fi
}

cleanup() {
    stop_serve
    show_counters
    if [ -n "$NETNS" ]; then
        ip netns del "$NETNS" 2>/dev/null || true
        NETNS=""
    fi
    if [ -n "$WORKDIR" ]; then
        rm -rf "$WORKDIR"
        WORKDIR=""
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ---------------------------------------------------------------------------------------------
# MAIN JOB (to be replaced by the load generator: `loadgen rpc` over an in-process ring pair).
#
# serve on tap:dtap0 with 10.200.0.2/24 in a private namespace; the kernel's end of the tap gets
# 10.200.0.1/24 and pings the engine PINGS times; serve's counters are printed at the end.
# Returns non-zero if a ping is lost (1) or the run was interrupted (130).
# ---------------------------------------------------------------------------------------------
main_job() {
    local serve=target/release/serve
    local tap=dtap0 kernel_ip=10.200.0.1 engine_ip=10.200.0.2 pings="${PINGS:-20}"
    [ -x "$serve" ] || die "$serve was not built"

    NETNS="engine-run-$$"
    WORKDIR=$(mktemp -d)
    ip netns add "$NETNS" || die "cannot create network namespace $NETNS (ip netns add)"
    ip -n "$NETNS" link set lo up

    log "starting: ip netns exec $NETNS $serve --port tap:$tap --ip $engine_ip/24"
    ip netns exec "$NETNS" "$serve" --port "tap:$tap" --ip "$engine_ip/24" \
        >"$WORKDIR/serve.out" 2>"$WORKDIR/serve.err" &
    SERVE_PID=$!

    # serve prints "serve: ready" once the port is up; EAL start-up takes well under a second.
    for _ in $(seq 300); do
        grep -q '^serve: ready' "$WORKDIR/serve.out" 2>/dev/null && break
        if ! kill -0 "$SERVE_PID" 2>/dev/null; then
            cat "$WORKDIR/serve.err" >&2
            SERVE_PID=""
            die "serve exited during start-up (its message is above)"
        fi
        sleep 0.1
    done
    grep -q '^serve: ready' "$WORKDIR/serve.out" || die "serve did not become ready within 30 s"
    grep '^serve: port' "$WORKDIR/serve.out" || true

    ip -n "$NETNS" addr add "$kernel_ip/24" dev "$tap"
    ip -n "$NETNS" link set "$tap" up

    log "kernel ($kernel_ip) pings the engine ($engine_ip) $pings times"
    local rc=0
    ip netns exec "$NETNS" ping -c "$pings" -i 0.05 -W 2 "$engine_ip" | tee "$WORKDIR/ping.out" || rc=$?
    # ping exits 0 when Ctrl-C stops it early: judge by its summary line.
    local sent received
    sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$WORKDIR/ping.out")
    received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$WORKDIR/ping.out")
    echo
    log "the kernel's neighbour entry for the engine:"
    ip -n "$NETNS" neigh show "$engine_ip" dev "$tap"

    stop_serve
    show_counters
    if [ "${sent:-0}" -lt "$pings" ]; then
        log "interrupted after ${sent:-0} pings (${received:-0} answered)"
        return 130
    fi
    if [ "$rc" -ne 0 ] || [ "${received:-0}" -ne "$pings" ]; then
        log "FAILED: ${received:-0} of $pings pings answered (ping exit status $rc)"
        return 1
    fi
    log "OK: all $pings pings answered"
}

ensure_deps build
log "building (release)"
cargo build --release --workspace --quiet
main_job
