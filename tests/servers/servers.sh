#!/usr/bin/env bash
# Local object-store servers for revleak's integration tests (tests/it/object_store.rs;
# README.md beside this script says what each is and why):
#   S3    -> moto server (PyPI moto[server])
#   GCS   -> gcp-storage-emulator (PyPI) + the XML-API routes object_store needs
#            (gcs_xml_emulator.py beside this script; the plain emulator answers
#            object_store's XML API with 501s, see README.md)
#   Azure -> Azurite blob service (npm azurite)
#
# Usage:
#   servers.sh install          # once, needs the registries (PyPI, npm); idempotent
#   servers.sh start DIR [PID]  # starts all three on 127.0.0.1, free ports; writes DIR/endpoints.env;
#                               # with PID: a watchdog stops them when process PID ends
#   servers.sh start-moto-auth DIR [PID]  # one more moto that checks signatures, with an IAM
#                               # user, its key and a bucket `authb`: DIR/auth.env
#   servers.sh stop DIR         # kills the processes started for DIR (by pid file)
#   servers.sh status DIR
#   servers.sh mkbucket DIR NAME   # bucket NAME on S3 and GCS, container NAME on Azure
#
# Everything is installed under $OBJECT_STORE_SERVERS_HOME (default ~/.cache/revleak-servers):
#   venv/     python venv with moto + gcp-storage-emulator
#   npm/      npm prefix with azurite
#   readers/  python venv (--system-site-packages) with the S3 readers of
#             tests/it/object_store_readers.rs: tests/readers/requirements-s3.txt
# `start` needs no network.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

HOME_DIR="${OBJECT_STORE_SERVERS_HOME:-${HOME:-/root}/.cache/revleak-servers}"
VENV="$HOME_DIR/venv"
NPM_PREFIX="$HOME_DIR/npm"
READERS_VENV="$HOME_DIR/readers"
READERS_REQUIREMENTS="$HERE/../readers/requirements-s3.txt"
PY="${PYTHON:-python3}"

# Versions that were installed and verified (2026-12-06). Override with env if needed.
MOTO_SPEC="${MOTO_SPEC:-moto[server]==5.2.5}"
GCS_EMU_SPEC="${GCS_EMU_SPEC:-gcp-storage-emulator==2026.7.19}"
AZURITE_SPEC="${AZURITE_SPEC:-azurite@3.37.0}"

log() { echo "[servers] $*" >&2; }

installed() {
  [ -x "$VENV/bin/moto_server" ] && [ -x "$VENV/bin/gcp-storage-emulator" ] &&
    [ -x "$NPM_PREFIX/node_modules/.bin/azurite-blob" ]
}

# The readers venv holds every pin of requirements-s3.txt (its own copies, not the system's).
readers_installed() {
  [ -x "$READERS_VENV/bin/python" ] && "$READERS_VENV/bin/python" - "$READERS_REQUIREMENTS" <<'PY'
import importlib.metadata as m, re, sys
for line in open(sys.argv[1]):
    spec = line.split("#")[0].strip()
    if spec:
        name, version = re.split(r"==", spec)
        try:
            if m.version(name) != version:
                sys.exit(1)
        except m.PackageNotFoundError:
            sys.exit(1)
PY
}

install_servers() {
  local t0; t0=$(date +%s)
  mkdir -p "$HOME_DIR"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$MOTO_SPEC" "$GCS_EMU_SPEC"
  local t1; t1=$(date +%s)
  mkdir -p "$NPM_PREFIX"
  npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error "$AZURITE_SPEC" >/dev/null
  local t2; t2=$(date +%s)
  {
    echo "moto $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))')"
    echo "gcp-storage-emulator $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("gcp-storage-emulator"))')"
    echo "azurite $(node -p "require('$NPM_PREFIX/node_modules/azurite/package.json').version")"
  } >"$HOME_DIR/versions.txt"
  log "installed: $(tr '\n' ' ' <"$HOME_DIR/versions.txt")"
  log "install took: pip $((t1 - t0)) s, npm $((t2 - t1)) s"
}

# The S3 readers: the system python's pandas, pyarrow and polars (.ci/run installs
# tests/readers/requirements.txt first) plus s3fs and DuckDB with httpfs, in a venv so
# the system's botocore and DuckDB stay as they are.
install_readers() {
  local t0; t0=$(date +%s)
  mkdir -p "$HOME_DIR"
  if [ ! -x "$READERS_VENV/bin/python" ]; then
    "$PY" -m venv --system-site-packages "$READERS_VENV"
  fi
  "$READERS_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$READERS_REQUIREMENTS"
  readers_installed || { log "the readers venv lacks a pin of $READERS_REQUIREMENTS"; return 1; }
  log "readers installed in $READERS_VENV ($(($(date +%s) - t0)) s)"
}

cmd_install() {
  local any=false
  if ! installed || [ "${FORCE:-}" = "1" ]; then
    install_servers; any=true
  fi
  if ! readers_installed || [ "${FORCE:-}" = "1" ]; then
    install_readers; any=true
  fi
  [ "$any" = true ] || log "already installed in $HOME_DIR"
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http NAME URL [seconds]: any HTTP answer (even 4xx) counts as up
wait_http() {
  local name=$1 url=$2 secs=${3:-60} i=0
  while [ $i -lt $((secs * 10)) ]; do
    if curl -s -o /dev/null -m 2 "$url"; then return 0; fi
    sleep 0.1; i=$((i + 1))
  done
  log "$name did not answer at $url within ${secs}s"
  return 1
}

start_bg() { # start_bg DIR NAME CMD...
  local dir=$1 name=$2; shift 2
  # setsid: own process group, so stop can kill the whole group (azurite = node + children)
  setsid "$@" >"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

cmd_start() {
  local dir=${1:?start DIR} parent=${2:-}
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  installed || { log "not installed: run '$0 install' (or bash .ci/run) first"; return 1; }
  local t0; t0=$(date +%s.%N)
  local s3p gcsp azp
  s3p=$(free_port); gcsp=$(free_port); azp=$(free_port)

  # moto: in-memory, all services; path-style and virtual-host both accepted.
  # It does not check signatures unless MOTO_AUTH_ACTIONS=N is set: then the first N
  # requests are free (the readiness probe below uses 1, checks/moto_auth.py 3 to create
  # an IAM user + key: so MOTO_AUTH_ACTIONS=4) and every
  # later one needs a valid SigV4 signature (wrong secret -> 403 SignatureDoesNotMatch).
  if [ -n "${MOTO_AUTH_ACTIONS:-}" ]; then
    start_bg "$dir" moto env INITIAL_NO_AUTH_ACTION_COUNT="$MOTO_AUTH_ACTIONS" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$s3p"
  else
    start_bg "$dir" moto "$VENV/bin/moto_server" -H 127.0.0.1 -p "$s3p"
  fi
  # gcp-storage-emulator (in-memory, no default bucket) with the XML API added
  start_bg "$dir" gcs "$VENV/bin/python" "$HERE/gcs_xml_emulator.py" 127.0.0.1 "$gcsp"
  # azurite blob only; data in DIR/azurite; --loose ignores unsupported headers,
  # --skipApiVersionCheck lets newer SDKs/object_store API versions through,
  # --disableTelemetry: azurite otherwise tries to send telemetry off-machine
  mkdir -p "$dir/azurite"
  start_bg "$dir" azurite "$NPM_PREFIX/node_modules/.bin/azurite-blob" \
    --blobHost 127.0.0.1 --blobPort "$azp" --location "$dir/azurite" \
    --skipApiVersionCheck --loose --disableProductStyleUrl --disableTelemetry
  [ -n "$parent" ] && watchdog "$dir" "$parent"

  cat >"$dir/endpoints.env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$s3p
GCS_ENDPOINT=http://127.0.0.1:$gcsp
AZURE_BLOB_ENDPOINT=http://127.0.0.1:$azp/devstoreaccount1
AZURE_STORAGE_ACCOUNT=devstoreaccount1
AZURE_STORAGE_KEY=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
EOF
  wait_http moto "http://127.0.0.1:$s3p/" 60
  wait_http gcs "http://127.0.0.1:$gcsp/" 60
  wait_http azurite "http://127.0.0.1:$azp/devstoreaccount1?comp=list" 60
  local t1; t1=$(date +%s.%N)
  log "all up in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s; endpoints in $dir/endpoints.env"
  cat "$dir/endpoints.env" | grep ENDPOINT >&2
}

# watchdog DIR PID: stops the servers of DIR once process PID is gone (a test
# process killed or ended without cleaning up)
watchdog() {
  local dir=$1 parent=$2
  setsid bash -c "while kill -0 $parent 2>/dev/null; do sleep 1; done; '$HERE/servers.sh' stop '$dir'" \
    >/dev/null 2>&1 </dev/null &
}

cmd_start_moto_auth() {
  local dir=${1:?start-moto-auth DIR} parent=${2:-}
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  installed || { log "not installed: run '$0 install' (or bash .ci/run) first"; return 1; }
  local port; port=$(free_port)
  # the first 4 requests are free: the readiness probe and the 3 IAM calls below
  start_bg "$dir" moto-auth env INITIAL_NO_AUTH_ACTION_COUNT=4 "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
  [ -n "$parent" ] && watchdog "$dir" "$parent"
  wait_http moto-auth "http://127.0.0.1:$port/" 60
  "$VENV/bin/python" "$HERE/moto_auth.py" "http://127.0.0.1:$port" >"$dir/auth.env"
}

cmd_stop() {
  local dir=${1:?stop DIR} name pid
  for name in moto gcs azurite moto-auth; do
    [ -f "$dir/$name.pid" ] || continue
    pid=$(cat "$dir/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 -- "-$pid" 2>/dev/null || true
      log "stopped $name ($pid)"
    fi
    rm -f "$dir/$name.pid"
  done
}

cmd_status() {
  local dir=${1:?status DIR} name pid
  for name in moto gcs azurite moto-auth; do
    if [ -f "$dir/$name.pid" ] && kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
      echo "$name running (pid $(cat "$dir/$name.pid"))"
    else
      echo "$name not running"
    fi
  done
}

cmd_mkbucket() {
  local dir=${1:?mkbucket DIR NAME} name=${2:?mkbucket DIR NAME}
  python3 "$HERE/mkbucket.py" "$dir/endpoints.env" "$name" >&2
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:-}" "${3:-}" ;;
  start-moto-auth) cmd_start_moto_auth "${2:-}" "${3:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  mkbucket) cmd_mkbucket "${2:-}" "${3:-}" ;;
  *) echo "usage: $0 install | start DIR [PID] | start-moto-auth DIR [PID] | stop DIR | status DIR | mkbucket DIR NAME" >&2; exit 2 ;;
esac
