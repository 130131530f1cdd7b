# shellcheck shell=bash
# Sourced by scripts/run and scripts/test: installs what a clean Debian machine lacks,
# with apt-get, when running as root (CI); otherwise says what to install.
#
#   apt_ensure WHAT CHECK PACKAGE...   # CHECK (a command) fails -> install PACKAGEs -> CHECK again
#   ensure_build_deps                  # what the Rust build links against

apt_ensure() {
    local what=$1 check=$2
    shift 2
    "$check" >/dev/null 2>&1 && return 0
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "packages: installing $* with apt-get ($what)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
    fi
    "$check" >/dev/null 2>&1 && return 0
    echo "packages: $what is required; install $* (Debian names) and re-run." >&2
    return 1
}

_has_openssl_headers() { pkg-config --exists openssl; }

# libpq is compiled into the binary (pq-sys "bundled") and linked to the system's
# OpenSSL for TLS to PostgreSQL (docs/architecture.md): its headers, and pkg-config to
# find them. A C compiler was needed before (libpq's sources) and still is.
ensure_build_deps() {
    apt_ensure "OpenSSL headers and pkg-config (libpq's TLS)" _has_openssl_headers pkg-config libssl-dev
}
