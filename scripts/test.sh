#!/usr/bin/env bash
# Runs celeriac's checks and tests. `npm test` and .ci/run run this with no argument.
#
#   bash scripts/test.sh [all|check|unit|integration|interop|e2e]      (default: all)
#
#   check        tsc --noEmit, eslint, prettier --check, type tests (test/types/*.fail.ts must NOT compile)
#   unit         src/**/*.test.ts test/unit/**/*.test.ts                 (no servers)
#   integration  test/integration/**/*.test.ts                          (Redis, RabbitMQ)
#   interop      test/interop/**/*.test.ts                              (Redis, RabbitMQ, Python Celery)
#   e2e          test/e2e/**/*.test.ts                                  (no server: the embedded default)
#   all          check, then every suite
#
# First installs what is missing (scripts/ensure-deps.sh): node_modules (npm ci) and, as root,
# Debian's redis-server, rabbitmq-server, python3-celery, python3-redis (+ python3-msgpack,
# python3-yaml). Where a piece cannot be installed (not root, no apt), the suites needing it are
# SKIPPED, loudly; with CI=true that is a failure instead. Then starts ONE redis-server and ONE
# RabbitMQ on free loopback ports for the run (CELERIAC_TEST_REDIS_URL, CELERIAC_TEST_AMQP_URL;
# see test/support/servers.ts) and stops them on exit, whatever happens. Every step runs even
# when an earlier one failed; the exit code is non-zero when any step failed, when no test file
# was found, or when a suite ran no test.
#
# Environment: CI=true (missing pieces fail the run), CELERIAC_TEST_SUITE_TIMEOUT (seconds one
# suite may take in all, default 1200).
set -uo pipefail
shopt -s globstar nullglob

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$PWD
SUITE=${1:-all}
case $SUITE in
  all | check | unit | integration | interop | e2e) ;;
  -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "test.sh: unknown suite '$SUITE' (have: all check unit integration interop e2e)" >&2; exit 2 ;;
esac
IN_CI=""
[[ ${CI:-} == true || ${CI:-} == 1 ]] && IN_CI=1
SUITE_TIMEOUT=${CELERIAC_TEST_SUITE_TIMEOUT:-1200}
T0=$(date +%s)

# shellcheck source=scripts/ensure-deps.sh
source "$ROOT/scripts/ensure-deps.sh"

# ---------------------------------------------------------------- bookkeeping
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/celeriac-test.XXXXXX")
SERVE_PID=""
SUITE_PGID="" # process group of the node test run in progress
STEPS=()        # "name|status|seconds|note"
TESTS_PASS=0 TESTS_FAIL=0 TESTS_SKIP=0 TEST_FILES=0 TESTS_RUN=0

cleanup() {
  [[ -n $SUITE_PGID ]] && kill -TERM -- "-$SUITE_PGID" 2>/dev/null
  if [[ -n $SERVE_PID ]] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM "$SERVE_PID" 2>/dev/null
    local i
    for ((i = 0; i < 300; i++)); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVE_PID" 2>/dev/null
    wait "$SERVE_PID" 2>/dev/null
  fi
  SERVE_PID=""
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT
trap 'echo "test.sh: terminated" >&2; exit 143' TERM

banner() { printf '\n==== %s\n' "$*"; }
record() { STEPS+=("$1|$2|$3|${4:-}"); }
loud_skip() {
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! SKIPPED: $*"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
}

# Runs a command as a step: prints its output, records pass/fail and time. Counts as one test.
check_step() {
  local name=$1 t=$SECONDS
  shift
  banner "$name: $*"
  if "$@"; then
    record "$name" PASS $((SECONDS - t))
    TESTS_PASS=$((TESTS_PASS + 1))
  else
    record "$name" FAIL $((SECONDS - t))
    TESTS_FAIL=$((TESTS_FAIL + 1))
  fi
}

# ---------------------------------------------------------------- what this run needs
want_check="" SUITES=()
case $SUITE in
  all) want_check=1; SUITES=(unit integration interop e2e) ;;
  check) want_check=1 ;;
  *) SUITES=("$SUITE") ;;
esac
suite_needs() {
  case $1 in
    unit) echo "" ;;
    integration) echo "redis rabbitmq" ;;
    interop) echo "redis rabbitmq python" ;;
    e2e) echo "" ;; # the embedded SQLite default only: runs with no server installed
  esac
}
lines() { (($#)) && printf '%s\n' "$@"; } # one argument a line; nothing for no argument
suite_files() {
  case $1 in
    unit) lines src/**/*.test.ts test/unit/**/*.test.ts ;;
    integration) lines test/integration/**/*.test.ts ;;
    interop) lines test/interop/**/*.test.ts ;;
    e2e) lines test/e2e/**/*.test.ts ;;
  esac
}
PIECES=()
for s in "${SUITES[@]}"; do
  for p in $(suite_needs "$s"); do [[ " ${PIECES[*]} " == *" $p "* ]] || PIECES+=("$p"); done
done

# ---------------------------------------------------------------- dependencies
banner "dependencies: node_modules${PIECES[*]:+ + ${PIECES[*]}}${IN_CI:+ (CI)}"
t=$SECONDS
APT_PID=""
if ((${#PIECES[@]})); then
  (deps_ensure_apt "${PIECES[@]}") >"$RUN_DIR/apt.log" 2>&1 &
  APT_PID=$!
fi
deps_ok=1
deps_ensure_node || { echo "test.sh: npm install failed" >&2; deps_ok=""; }
if [[ -n $APT_PID ]]; then
  wait "$APT_PID" || echo "test.sh: installing Debian packages failed (log below)"
  cat "$RUN_DIR/apt.log"
fi
MISSING=()
for p in node "${PIECES[@]}"; do
  if why=$(deps_check "$p"); then
    echo "deps: $p ok"
  else
    echo "deps: $p MISSING: $why"
    MISSING+=("$p")
  fi
done
if [[ " ${MISSING[*]} " == *" node "* ]]; then deps_ok=""; fi
if ((${#MISSING[@]})) && [[ -n $IN_CI ]]; then deps_ok=""; fi
if [[ -z $deps_ok ]]; then
  record dependencies FAIL $((SECONDS - t)) "missing: ${MISSING[*]}"
  TESTS_FAIL=$((TESTS_FAIL + 1))
  echo "test.sh: cannot run without: ${MISSING[*]}${IN_CI:+ (CI=true: every piece is required)}" >&2
  echo "deps: 0 passed, 1 failed"
  exit 1
fi
record dependencies PASS $((SECONDS - t)) "${MISSING[*]:+missing: ${MISSING[*]}}"
export PATH="$ROOT/node_modules/.bin:$PATH"
mkdir -p "$RUN_DIR/tmp"
export TMPDIR="$RUN_DIR/tmp" # every temporary file of the run goes away with it

runnable() { # suite -> prints the missing pieces it needs (empty: runnable)
  local p out=()
  for p in $(suite_needs "$1"); do [[ " ${MISSING[*]} " == *" $p "* ]] && out+=("$p"); done
  echo "${out[*]}"
}

# ---------------------------------------------------------------- shared servers (background)
serve_args=()
for s in "${SUITES[@]}"; do
  [[ -n $(runnable "$s") || -z $(suite_files "$s") ]] && continue
  [[ " $(suite_needs "$s") " == *" redis "* && " ${serve_args[*]} " != *" --redis "* ]] && serve_args+=(--redis)
  [[ " $(suite_needs "$s") " == *" rabbitmq "* && " ${serve_args[*]} " != *" --amqp "* ]] && serve_args+=(--amqp)
done
ENV_FILE="$RUN_DIR/servers.env"
if ((${#serve_args[@]})); then
  echo "test.sh: starting shared servers in the background: ${serve_args[*]}"
  pdeath=()
  command -v setpriv >/dev/null && pdeath=(setpriv --pdeathsig SIGTERM --)
  "${pdeath[@]}" node --import tsx test/support/serve.ts --out "$ENV_FILE" "${serve_args[@]}" \
    >"$RUN_DIR/serve.log" 2>&1 </dev/null &
  SERVE_PID=$!
fi

SERVERS_READY=""
wait_servers() { # once: waits for serve.ts, exports the URLs; fails if a server did not start
  if [[ -n $SERVERS_READY ]]; then [[ $SERVERS_READY == ok ]]; return; fi
  [[ -n $SERVE_PID ]] || { SERVERS_READY=ok; return 0; }
  local i
  for ((i = 0; i < 1800; i++)); do
    grep -q '^# done' "$ENV_FILE" 2>/dev/null && break
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$RUN_DIR/serve.log"
  if ! grep -q '^# done' "$ENV_FILE" 2>/dev/null || grep -q '^# failed' "$ENV_FILE"; then
    echo "test.sh: the shared servers did not start (serve.ts's log is above)" >&2
    SERVERS_READY=failed
    return 1
  fi
  # shellcheck disable=SC1090
  source "$ENV_FILE"
  echo "test.sh: CELERIAC_TEST_REDIS_URL=${CELERIAC_TEST_REDIS_URL:-} CELERIAC_TEST_AMQP_URL=${CELERIAC_TEST_AMQP_URL:-}"
  SERVERS_READY=ok
}

# ---------------------------------------------------------------- static checks
type_tests() {
  local f name cfg out rc=0 code
  local files=(test/types/*.fail.ts)
  if ((${#files[@]} == 0)); then
    echo "no test/types/*.fail.ts files"
    return 0
  fi
  for f in "${files[@]}"; do
    name=$(basename "$f" .ts)
    cfg="$RUN_DIR/tsconfig.$name.json"
    # The project's options; typeRoots pinned because this config lives outside the repo.
    printf '{ "extends": "%s/tsconfig.json", "compilerOptions": { "noEmit": true, "typeRoots": ["%s/node_modules/@types"] }, "files": ["%s/%s"], "include": [] }\n' \
      "$ROOT" "$ROOT" "$ROOT" "$f" >"$cfg"
    out=$(tsc -p "$cfg" 2>&1)
    if [[ $? -eq 0 ]]; then
      echo "FAIL $f compiled, but a *.fail.ts file must not compile"
      rc=1
      continue
    fi
    if ! grep -q "^$f([0-9]*,[0-9]*): error TS" <<<"$out"; then
      echo "FAIL $f: tsc failed, but with no error in $f itself:"
      echo "$out" | head -20
      rc=1
      continue
    fi
    # Optional precision: "// expect-error: TS2345" lines name codes that must be among the errors.
    for code in $(grep -o 'expect-error: TS[0-9]*' "$f" | sed 's/.*: //'); do
      if ! grep -q "^$f([0-9]*,[0-9]*): error $code" <<<"$out"; then
        echo "FAIL $f: expected error $code, got:"
        grep "^$f(" <<<"$out" | head -10
        rc=1
        continue 2
      fi
    done
    echo "ok   $f does not compile: $(grep -c "^$f(" <<<"$out") error(s), first: $(grep -m1 "^$f(" <<<"$out" | cut -c1-160)"
  done
  return $rc
}

if [[ -n $want_check ]]; then
  # NO_COLOR: with CI set, these tools colour their output even into a pipe.
  check_step tsc env NO_COLOR=1 tsc -p tsconfig.json --noEmit
  check_step eslint env NO_COLOR=1 eslint .
  check_step prettier env NO_COLOR=1 prettier --check .
  check_step type-tests type_tests
fi

# ---------------------------------------------------------------- test suites
# The last node:test summary count named $1 (tests, pass, fail, ...) in log $2, TAP or spec format.
count() { grep -aE "^(# |ℹ )$1 [0-9]+$" "$2" | tail -1 | grep -oE '[0-9]+$' || echo 0; }

run_suite() {
  local suite=$1 t=$SECONDS files missing log rc
  mapfile -t files < <(suite_files "$suite")
  banner "$suite: ${#files[@]} file(s)"
  if ((${#files[@]} == 0)); then
    if [[ $SUITE == "$suite" ]]; then
      echo "test.sh: no test files for suite $suite"
      record "$suite" FAIL 0 "no test files"
      TESTS_FAIL=$((TESTS_FAIL + 1))
    else
      echo "(no test files: nothing to run)"
      record "$suite" EMPTY 0 "no test files"
    fi
    return
  fi
  missing=$(runnable "$suite")
  if [[ -n $missing ]]; then
    local pkgs="" p
    for p in $missing; do pkgs+=" $(deps_packages "$p")"; done
    loud_skip "$suite suite (${#files[@]} files): missing $missing. Run this as root (it installs them), or: apt-get install -y$pkgs"
    record "$suite" SKIPPED 0 "missing $missing"
    return
  fi
  # TAP (what node prints into a pipe anyway), so that the summary and file lines can be read back.
  # No --test-force-exit: it can exit a file's process before its last results reach the
  # runner (nodejs/node#64833), so a run reported fewer tests than ran (549 of 566 once, with
  # "fail 0"). A test file that leaves a timer or a socket behind now fails on the timeout,
  # which is a leak worth knowing about.
  local opts=(--test-reporter=tap --test-reporter-destination=stdout --test-timeout=60000)
  case $suite in
    unit) opts+=(--test-concurrency="$(($(nproc 2>/dev/null || echo 2) > 2 ? $(nproc) : 2))") ;;
    integration | e2e) opts+=(--test-concurrency=1 --test-timeout=300000) ;;
    interop) opts+=(--test-concurrency=1 --test-timeout=300000) ;;
  esac
  TEST_FILES=$((TEST_FILES + ${#files[@]}))
  if [[ $suite != unit ]] && ! wait_servers; then
    record "$suite" FAIL $((SECONDS - t)) "shared servers did not start"
    TESTS_FAIL=$((TESTS_FAIL + 1))
    return
  fi
  log="$RUN_DIR/$suite.log"
  : >"$log" # exists before tail opens it (else tail can start first and show nothing)
  # In the background, so that INT/TERM reach the trap at once; timeout makes its own process
  # group (pgid = its pid), which the trap kills whole. tail shows the output as it comes.
  timeout --kill-after=30 "$SUITE_TIMEOUT" node --import tsx --test "${opts[@]}" "${files[@]}" \
    >"$log" 2>&1 </dev/null &
  SUITE_PGID=$!
  tail -s 0.2 -n +1 -f --pid="$SUITE_PGID" "$log" &
  local tail_pid=$!
  wait "$SUITE_PGID"
  rc=$?
  wait "$tail_pid"
  SUITE_PGID=""
  local n_tests n_pass n_fail n_cancel n_skip n_todo
  n_tests=$(count tests "$log") n_pass=$(count pass "$log") n_fail=$(count fail "$log")
  n_cancel=$(count cancelled "$log") n_skip=$(count skipped "$log") n_todo=$(count todo "$log")
  TESTS_PASS=$((TESTS_PASS + n_pass))
  TESTS_FAIL=$((TESTS_FAIL + n_fail + n_cancel))
  TESTS_SKIP=$((TESTS_SKIP + n_skip + n_todo))
  TESTS_RUN=$((TESTS_RUN + n_tests))
  # Node 20 reports a file that declared no test as one passing test named by its path: a defect.
  local no_test
  no_test=$(awk -v root="$ROOT/" 'FNR == NR { want[root $0] = 1; next }
    /^ok [0-9]+ - / { sub(/^ok [0-9]+ - /, ""); if ($0 in want) print }' <(lines "${files[@]}") "$log")
  if [[ -n $no_test ]]; then
    local k
    k=$(wc -l <<<"$no_test")
    echo "test.sh: $k file(s) declared no test (each must call test() or describe()):"
    sed 's/^/  /' <<<"$no_test"
    TESTS_PASS=$((TESTS_PASS - k)) TESTS_FAIL=$((TESTS_FAIL + k)) n_pass=$((n_pass - k)) n_fail=$((n_fail + k))
    n_tests=$((n_tests - k)) TESTS_RUN=$((TESTS_RUN - k))
    ((rc == 0)) && rc=1
  fi
  local note="$n_pass passed, $((n_fail + n_cancel)) failed, $((n_skip + n_todo)) skipped"
  if ((rc == 124 || rc == 137)); then
    record "$suite" FAIL $((SECONDS - t)) "timed out after ${SUITE_TIMEOUT}s; $note"
    ((n_fail + n_cancel)) || TESTS_FAIL=$((TESTS_FAIL + 1))
  elif ((n_tests == 0)); then
    record "$suite" FAIL $((SECONDS - t)) "ran no test"
    TESTS_FAIL=$((TESTS_FAIL + 1))
  elif ((rc != 0)); then
    record "$suite" FAIL $((SECONDS - t)) "$note (exit $rc)"
    ((n_fail + n_cancel)) || TESTS_FAIL=$((TESTS_FAIL + 1))
  else
    record "$suite" PASS $((SECONDS - t)) "$note"
  fi
}

for s in "${SUITES[@]}"; do run_suite "$s"; done

# ---------------------------------------------------------------- summary
failed=0
banner "summary ($SUITE, $(($(date +%s) - T0)) s)"
for row in "${STEPS[@]}"; do
  IFS='|' read -r name status secs note <<<"$row"
  printf '  %-13s %-8s %5ss  %s\n' "$name" "$status" "$secs" "$note"
  [[ $status == FAIL ]] && failed=1
done
if ((${#SUITES[@]})) && ((TEST_FILES == 0)); then
  echo "test.sh: FAILED: no test file was found"
  failed=1
elif ((${#SUITES[@]})) && ((TESTS_RUN == 0)) && ((TEST_FILES > 0)); then
  echo "test.sh: FAILED: no test ran"
  failed=1
fi
skipped=$(for row in "${STEPS[@]}"; do [[ $row == *"|SKIPPED|"* ]] && printf '%s ' "${row%%|*}"; done)
[[ -n $skipped ]] && echo "test.sh: SKIPPED suites (missing pieces): $skipped"
((failed)) && echo "test.sh: FAILED" || echo "test.sh: OK${skipped:+ (but suites were SKIPPED)}"
echo "(counts: node tests of every suite, plus one per check step)"
echo "tests: $TESTS_PASS passed, $TESTS_FAIL failed, $TESTS_SKIP skipped"
exit $failed
