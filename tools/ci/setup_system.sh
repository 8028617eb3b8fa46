#!/usr/bin/env bash
# Installs the one system library Diffu builds against (libzstd, found through pkg-config) when it is
# missing: apt on Debian/Ubuntu, Homebrew on macOS; elsewhere it says what to install and stops.
# Run by the README's two commands (tools/ci/quickstart.sh, tools/ci/test.sh) and by .ci/run.
set -euo pipefail
# Present means the pkg-config entry *and* the header the CZstd shim includes (a stray libzstd.pc without
# the development files would otherwise pass and the build stop at 'zstd.h' not found).
if pkg-config --exists libzstd 2>/dev/null && [[ -f "$(pkg-config --variable=includedir libzstd)/zstd.h" ]]; then
    exit 0
fi
case "$(uname -s)" in
    Linux)
        if command -v apt-get >/dev/null 2>&1; then
            sudo=""
            if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
            echo "setup_system: installing libzstd-dev and pkg-config (apt)"
            export DEBIAN_FRONTEND=noninteractive
            $sudo apt-get update -qq
            $sudo apt-get install -y -qq libzstd-dev pkg-config
        else
            echo "setup_system: libzstd (development files) and pkg-config are missing and there is no apt-get;" >&2
            echo "install them with this system's package manager (e.g. dnf install libzstd-devel pkgconf)" >&2
            exit 1
        fi
        ;;
    Darwin)
        if command -v brew >/dev/null 2>&1; then
            echo "setup_system: installing zstd and pkg-config (Homebrew)"
            brew install zstd pkg-config
        else
            echo "setup_system: libzstd is missing; install Homebrew, then: brew install zstd pkg-config" >&2
            exit 1
        fi
        ;;
    *)
        echo "setup_system: install libzstd and pkg-config for $(uname -s), then rerun" >&2
        exit 1
        ;;
esac
pkg-config --exists libzstd
