#!/usr/bin/env bash
# deps.sh — installs the Debian 12 packages connectord builds and tests
# with, when any is missing. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git python3 curl openssl libssl-dev
    libpq-dev libcurl4-openssl-dev libjansson-dev libssh2-1-dev libyaml-dev
    libmicrohttpd-dev libsystemd-dev libcmocka-dev libyajl-dev
    postgresql-15 postgresql-client-15 tzdata
    clang libclang-rt-14-dev valgrind
    wrk pgbouncer openssh-server openssh-client libzip-dev libexpat1-dev libgpgme-dev libxlsxwriter-dev gnupg
    lintian dpkg-dev fakeroot systemd
    chromium nodejs $(command -v npm >/dev/null || echo npm)  # ops page browser test (npm: part of nodejs from NodeSource)
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The Debian package would start a system cluster and sshd; we run our own.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
