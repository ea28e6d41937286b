#!/usr/bin/env bash
# Installs the Debian packages the tests and `make demo` need, if any is missing:
# PostgreSQL 15 (server and client), zstd and openssl for the integration tier; containerd,
# runc, the CNI plugins, iptables, conntrack and debootstrap for the real node; GNU time
# for the peak RSS of `make bench` and of the runner memory test; chromium for the UI's
# browser tests (Playwright drives this one: it never downloads a browser).
set -euo pipefail
packages=(postgresql-15 postgresql-client-15 zstd openssl iproute2
          containerd runc containernetworking-plugins iptables conntrack debootstrap time chromium)
need=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
