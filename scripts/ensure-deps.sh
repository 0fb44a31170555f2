#!/usr/bin/env bash
# Installs what celeriac's tests need, skipping whatever is already there, and reports what is missing.
#
#   bash scripts/ensure-deps.sh [node] [redis] [rabbitmq] [python]   (no argument: all four)
#
#   node      node_modules up to date with package-lock.json (npm ci; npm install when there is no lock)
#   redis     redis-server, openssl                 (Debian: redis-server openssl)
#   rabbitmq  RabbitMQ + Erlang                     (Debian: rabbitmq-server)
#   python    /usr/bin/python3 with celery, redis, msgpack, yaml
#             (Debian: python3-celery python3-redis python3-msgpack python3-yaml)
#
# Debian packages are installed with apt-get when running as root (or with password-less sudo);
# installing never starts the packages' system services. Prints one "deps: <piece> ok|MISSING" line
# per piece and exits 1 when a requested piece is still missing.
#
# scripts/test.sh sources this file for its functions (deps_* below); running it does the same work.

# Debian packages per piece.
deps_packages() {
  case $1 in
    redis) echo redis-server openssl ;; # openssl: the rediss:// tests make their own CA
    rabbitmq) echo rabbitmq-server ;;
    python) echo python3-celery python3-redis python3-msgpack python3-yaml ;;
    *) echo "" ;;
  esac
}

# Path of redis-server, or nothing.
deps_redis_server() {
  local p
  p=$(command -v redis-server 2>/dev/null) || p=""
  [[ -z $p && -x /usr/bin/redis-server ]] && p=/usr/bin/redis-server
  [[ -n $p ]] && echo "$p"
}

# Path of RabbitMQ's own start script (Debian's /usr/sbin wrapper switches user), or nothing.
# test/support/rabbitmq.ts resolves it the same way.
deps_rabbitmq_server() {
  local own=/usr/lib/rabbitmq/bin/rabbitmq-server p
  [[ -x $own ]] && { echo "$own"; return 0; }
  p=$(command -v rabbitmq-server 2>/dev/null) && [[ -x $p ]] && { echo "$p"; return 0; }
  return 1
}

# Succeeds when the piece is usable right now. Prints why not on stdout otherwise.
deps_check() {
  case $1 in
    node)
      deps_node_fresh || { echo "node_modules missing or older than package-lock.json"; return 1; } ;;
    redis)
      deps_redis_server >/dev/null || { echo "redis-server not found on PATH or in /usr/bin"; return 1; }
      command -v openssl >/dev/null || { echo "openssl not found (the rediss:// tests need it)"; return 1; } ;;
    rabbitmq)
      deps_rabbitmq_server >/dev/null || { echo "rabbitmq-server not found"; return 1; }
      command -v erl >/dev/null || [[ -x /usr/bin/erl ]] || { echo "erl (Erlang) not found"; return 1; } ;;
    python)
      if [[ ! -x /usr/bin/python3 ]]; then echo "/usr/bin/python3 not found"; return 1; fi
      /usr/bin/python3 -c 'import celery, redis, msgpack, yaml' >/dev/null 2>&1 ||
        { echo "/usr/bin/python3 cannot import celery, redis, msgpack and yaml"; return 1; } ;;
    *) echo "unknown piece '$1' (have: node redis rabbitmq python)"; return 1 ;;
  esac
}

# node_modules is there and every locked, non-optional package is installed at the locked version.
deps_node_fresh() {
  [[ -d node_modules ]] || return 1
  [[ -f package-lock.json ]] || return 0
  [[ -f node_modules/.package-lock.json ]] || return 1
  node -e '
    const fs = require("node:fs");
    const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages ?? {};
    const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages ?? {};
    for (const [path, meta] of Object.entries(want)) {
      if (path === "" || meta.optional || meta.link) continue;
      if (have[path]?.version !== meta.version) { console.error(`stale: ${path}`); process.exit(1); }
    }' 2>/dev/null
}

# npm ci (npm install without a lock) when node_modules is missing or stale.
deps_ensure_node() {
  if deps_node_fresh; then return 0; fi
  echo "deps: installing node_modules ($( [[ -f package-lock.json ]] && echo 'npm ci' || echo 'npm install'))"
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund </dev/null
  else
    npm install --no-audit --no-fund </dev/null
  fi
}

# How to run apt-get here: "" as root, "sudo -n" with password-less sudo; fails otherwise.
deps_apt_prefix() {
  command -v apt-get >/dev/null || { echo "apt-get is not available on this machine" >&2; return 1; }
  if [[ $(id -u) == 0 ]]; then echo ""; return 0; fi
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then echo "sudo -n"; return 0; fi
  echo "not root and no password-less sudo" >&2
  return 1
}

# apt-get install the packages of the given pieces that are not installed yet.
deps_ensure_apt() {
  local piece pkgs=() p
  for piece in "$@"; do
    deps_check "$piece" >/dev/null && continue
    for p in $(deps_packages "$piece"); do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
    done
  done
  ((${#pkgs[@]})) || return 0
  local prefix
  prefix=$(deps_apt_prefix 2>/dev/null) || {
    echo "deps: cannot install ${pkgs[*]}: $(deps_apt_prefix 2>&1 >/dev/null)." \
      "Install them yourself: apt-get install -y ${pkgs[*]}"
    return 1
  }
  echo "deps: apt-get install ${pkgs[*]}"
  # Keep the packages' services from starting on install (they would hold the default ports).
  local made_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    $prefix sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d' &&
      made_policy=1
  fi
  local rc=0
  {
    $prefix env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
      { sleep 5; $prefix env DEBIAN_FRONTEND=noninteractive apt-get update -q; }
  } </dev/null && $prefix env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 \
    --no-install-recommends -o Dpkg::Options::=--force-confold "${pkgs[@]}" </dev/null || rc=$?
  [[ -n $made_policy ]] && $prefix rm -f /usr/sbin/policy-rc.d
  return $rc
}

# Installs what is missing for the given pieces (default: all), then prints one status line per piece.
deps_main() {
  local pieces=("$@") piece why rc=0 apt_pieces=()
  ((${#pieces[@]})) || pieces=(node redis rabbitmq python)
  for piece in "${pieces[@]}"; do [[ $piece == node ]] || apt_pieces+=("$piece"); done
  ((${#apt_pieces[@]})) && { deps_ensure_apt "${apt_pieces[@]}" || true; }
  for piece in "${pieces[@]}"; do [[ $piece == node ]] && { deps_ensure_node || true; }; done
  for piece in "${pieces[@]}"; do
    if why=$(deps_check "$piece"); then
      echo "deps: $piece ok"
    else
      echo "deps: $piece MISSING: $why"
      rc=1
    fi
  done
  return $rc
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -uo pipefail
  cd "$(dirname "$0")/.." || exit 1
  deps_main "$@"
fi
