# shellcheck shell=bash
# deps.sh: installs what the engine needs to build and test on Debian 12; sourced by run.sh and
# test.sh (not run on its own).
#
# `ensure_deps build|lint`: Debian packages through apt (only the missing ones; `apt-get update`
# only when something must be installed), then a Rust toolchain (rustup, only when cargo is
# missing or older than the workspace's rust-version), plus rustfmt and clippy for `lint`. Quiet and fast when everything is present. Needs root (the tests and the main job need
# it anyway).

# Build: libdpdk-dev pkg-config clang libclang-dev (bindgen) build-essential (cc, the linker).
# Tests and the main job: iproute2 (ip netns, ip link), iputils-ping, util-linux (setpriv),
# nftables (loss on the kernel's side), ethtool (kernel-side offloads off), tcpdump (pcap
# read-back), python3 and curl (kernel-side peers), ca-certificates (rustup over https).
DEPS_APT_PACKAGES=(
    libdpdk-dev pkg-config clang libclang-dev build-essential
    iproute2 iputils-ping util-linux nftables ethtool tcpdump python3 curl ca-certificates
)

# Oldest Rust the workspace builds with (Cargo.toml rust-version; edition 2024).
DEPS_RUST_MIN="1.88"

deps_log() { printf '%s: %s\n' "${DEPS_WHO:-deps}" "$*" >&2; }

deps_die() {
    deps_log "error: $*"
    exit 1
}

deps_require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        deps_die "run me as root: creating taps and network namespaces and installing packages need it (e.g. sudo $0)"
    fi
}

deps_require_debian() {
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
        deps_die "this script installs its dependencies with apt (Debian 12); install by hand: ${DEPS_APT_PACKAGES[*]} and Rust >= $DEPS_RUST_MIN"
    fi
}

deps_apt() {
    local missing=() p
    for p in "${DEPS_APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    deps_log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || deps_die "apt-get update failed (no network or no apt sources?)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        deps_die "apt-get install ${missing[*]} failed"
}

# True when cargo's version is at least DEPS_RUST_MIN.
deps_cargo_recent() {
    local v
    v=$(cargo --version 2>/dev/null | awk '{print $2}') || return 1
    [ -n "$v" ] || return 1
    [ "$(printf '%s\n%s\n' "$DEPS_RUST_MIN" "${v%%-*}" | sort -V | head -n1)" = "$DEPS_RUST_MIN" ]
}

deps_rust() {
    if [ -d "$HOME/.cargo/bin" ]; then
        case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) export PATH="$HOME/.cargo/bin:$PATH" ;; esac
    fi
    if ! deps_cargo_recent; then
        if command -v rustup >/dev/null 2>&1; then
            deps_log "updating the Rust toolchain with rustup"
            rustup toolchain install stable --profile minimal -c rustfmt -c clippy >/dev/null ||
                deps_die "rustup could not install the stable toolchain"
            rustup default stable >/dev/null
        else
            # Debian 12's own rustc (1.63) is too old for this workspace: use rustup.
            deps_log "installing Rust (stable, with rustfmt and clippy) with rustup into $HOME/.cargo"
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
                sh -s -- -y -q --profile minimal -c rustfmt -c clippy >/dev/null ||
                deps_die "installing Rust with rustup failed (network?); see https://rustup.rs"
            export PATH="$HOME/.cargo/bin:$PATH"
        fi
        deps_cargo_recent || deps_die "cargo $(cargo --version 2>/dev/null) is older than $DEPS_RUST_MIN"
    fi
    [ "$1" = lint ] || return 0
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        command -v rustup >/dev/null 2>&1 ||
            deps_die "cargo fmt or cargo clippy is missing and there is no rustup to add them"
        deps_log "adding rustfmt and clippy"
        rustup component add rustfmt clippy >/dev/null || deps_die "rustup component add rustfmt clippy failed"
    fi
}

ensure_deps() {
    case "${1:-}" in
    build | lint) ;;
    *) deps_die "ensure_deps: expected build or lint, got '${1:-}'" ;;
    esac
    deps_require_root
    deps_require_debian
    deps_apt
    deps_rust "$1"
}
