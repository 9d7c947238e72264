#!/usr/bin/env bash
# Fresh-clone check: what a new user does on a machine with only Node 20 and npm. Clones this
# checkout into a temporary directory, `npm ci`, `npm start` in the background (ephemeral port,
# latency scale 0.1), waits for /readyz, hot-adds a NIC with the operator token from
# .hvgate/demo.json, runs `npm run tour`, checks the audit trail verifies (API and
# `hvgate audit verify`), stops the demo with SIGTERM (exit 0 expected) and cleans up.
# Exits non-zero on any failure.
#
# usage: test/fresh-clone/run.sh [--uncommitted] [--keep]
#   --uncommitted  also copy modified and untracked (not ignored) files of the checkout into the
#                  clone, to check work before it is committed (a plain clone sees only HEAD)
#   --keep         keep the temporary directory (its path is printed)
# env: FRESH_CLONE_START_TIMEOUT (s, default 300: build + start), FRESH_CLONE_READY_TIMEOUT
#      (s, default 120: /readyz after the URL is known)
set -euo pipefail

uncommitted=0
keep=0
for arg in "$@"; do
  case "$arg" in
    --uncommitted) uncommitted=1 ;;
    --keep) keep=1 ;;
    -h | --help)
      sed -n '2,15p' "$0"
      exit 0
      ;;
    *)
      echo "fresh-clone: unknown argument '$arg'" >&2
      exit 2
      ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
work="$(mktemp -d "${TMPDIR:-/tmp}/hvgate-fresh-clone.XXXXXX")"
clone="$work/hvgate"
log="$work/npm-start.log"
start_pid=""
start_timeout="${FRESH_CLONE_START_TIMEOUT:-300}"
ready_timeout="${FRESH_CLONE_READY_TIMEOUT:-120}"

step() { printf '\n== fresh-clone: %s\n' "$*"; }
fail() {
  printf 'fresh-clone: FAILED: %s\n' "$*" >&2
  if [ -f "$log" ]; then
    echo '--- npm start output (last 40 lines) ---' >&2
    tail -n 40 "$log" >&2
  fi
  exit 1
}

cleanup() {
  local rc=$?
  if [ -n "$start_pid" ] && kill -0 "$start_pid" 2>/dev/null; then
    # npm start runs in its own process group (setsid): stop the whole group, then make sure.
    kill -TERM -- "-$start_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$start_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$start_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then
    echo "fresh-clone: kept $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Small HTTP helper (node is all a new user has): prints "<status> <body>".
http() {
  node -e '
    const [method, url, token, body] = process.argv.slice(1);
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body) headers["Content-Type"] = "application/json";
    fetch(url, { method, headers, body: body || undefined, signal: AbortSignal.timeout(60000) })
      .then(async (r) => process.stdout.write(`${r.status} ${await r.text()}`))
      .catch((e) => { process.stdout.write(`000 ${e.cause?.code ?? e.message}`); });
  ' "$@"
}
json() { node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8")); const v=(new Function("d", `return (${process.argv[1]})`))(d); process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));' "$1"; }

step "clone $repo into $clone"
git clone --quiet --no-hardlinks "$repo" "$clone"
if [ "$uncommitted" = 1 ]; then
  # Modified, added and untracked files that .gitignore does not exclude; deletions are applied too.
  (cd "$repo" && git ls-files -z --modified --others --exclude-standard) |
    while IFS= read -r -d '' f; do
      if [ -e "$repo/$f" ]; then
        mkdir -p "$clone/$(dirname "$f")"
        cp -p "$repo/$f" "$clone/$f"
      else
        rm -f "$clone/$f"
      fi
    done
  echo "copied uncommitted changes of the checkout"
fi
cd "$clone"

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error || fail "npm ci"

step "npm start -- --port 0 --latency-scale 0.1 (in the background)"
setsid npm start -- --port 0 --latency-scale 0.1 >"$log" 2>&1 &
start_pid=$!
demo_json="$clone/.hvgate/demo.json"
deadline=$((SECONDS + start_timeout))
until [ -s "$demo_json" ]; do
  kill -0 "$start_pid" 2>/dev/null || fail "npm start exited before writing .hvgate/demo.json"
  [ "$SECONDS" -lt "$deadline" ] || fail "no .hvgate/demo.json after ${start_timeout}s"
  sleep 1
done
url="$(json d.url <"$demo_json")"
demo_pid="$(json d.pid <"$demo_json")"
operator="$(json d.tokens.operator <"$demo_json")"
auditor="$(json d.tokens.auditor <"$demo_json")"
echo "demo at $url (pid $demo_pid)"

step "wait for $url/readyz (at most ${ready_timeout}s)"
deadline=$((SECONDS + ready_timeout))
until [ "$(http GET "$url/readyz" | cut -c1-3)" = 200 ]; do
  kill -0 "$start_pid" 2>/dev/null || fail "npm start exited while waiting for /readyz"
  [ "$SECONDS" -lt "$deadline" ] || fail "/readyz not 200 after ${ready_timeout}s"
  sleep 1
done
echo ready

step "hot-add a NIC to a Generation 2 VM with the operator token"
nic_path="$(json 'd.examples.find((e) => e.path.endsWith("/network-adapters")).path' <"$demo_json")"
reply="$(http POST "$url$nic_path" "$operator" '{"switchName":"External-LAN"}')"
echo "${reply:0:300}"
[ "${reply:0:3}" = 201 ] || fail "hot-add NIC: expected 201"
[ "$(printf '%s' "${reply:4}" | json 'd.status')" = succeeded ] || fail "hot-add NIC: job not succeeded"

step "npm run tour"
npm run --silent tour || fail "npm run tour"

step "audit trail verifies (API and hvgate audit verify)"
reply="$(http GET "$url/v1/audit/verify" "$auditor")"
echo "${reply:0:300}"
[ "${reply:0:3}" = 200 ] || fail "GET /v1/audit/verify: expected 200"
[ "$(printf '%s' "${reply:4}" | json 'd.ok')" = true ] || fail "GET /v1/audit/verify: ok is not true"
[ "$(printf '%s' "${reply:4}" | json 'd.eventsChecked > 0')" = true ] || fail "audit trail is empty"
node dist/cli.js audit verify --config .hvgate/hvgate.yaml || fail "hvgate audit verify"

step "stop the demo (SIGTERM) and expect exit 0"
kill -TERM "$demo_pid"
set +e
wait "$start_pid"
rc=$?
set -e
start_pid=""
[ "$rc" = 0 ] || fail "npm start exited $rc after SIGTERM"
grep -q 'hvgate demo stopped' "$log" || fail "the demo did not report a clean stop"
[ ! -e "$demo_json" ] || fail ".hvgate/demo.json (tokens) left behind after stop"

step "OK: clone, npm ci, npm start, NIC hot-add, tour, audit verify, clean stop"
