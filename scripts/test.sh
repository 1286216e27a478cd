#!/usr/bin/env bash
# Runs the whole test suite (unit, protocol, scenarios), the linter and the type checker.
set -euo pipefail
cd "$(dirname "$0")/.."
# Bytecode is cached (__pycache__, gitignored) even where the caller's environment says not to:
# without it every worker, fork server and subprocess compiles the project from source again, and
# pytest rewrites the asserts of each test module and plugin package (schemathesis: 244 modules)
# in each worker, about 10 s of CPU per worker (measured: collection 18.5 s CPU uncached, 8 s cached).
unset PYTHONDONTWRITEBYTECODE
bash scripts/setup.sh
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
# Types of the core and the device adapters: files and settings from pyproject.toml [tool.mypy].
# Checked beside the tests (6 s of one core in a fresh clone, while pytest's workers start and
# finish leave a core idle); its verdict is waited for and counts as theirs.
mypy_log=$(mktemp)
.venv/bin/mypy --config-file pyproject.toml > "$mypy_log" 2>&1 &
mypy_pid=$!
trap 'kill "$mypy_pid" 2>/dev/null || true; rm -f "$mypy_log"' EXIT
.venv/bin/ruff check .
.venv/bin/python -m kiosk.statechart --check
# As root, where namespaces can be made: pytest-xdist workers side by side, each in its own network
# and mount namespace (scripts/isolated: its own loopback, /run/pcscd and so its own pcscd), so the
# whole-session tests run in parallel. Otherwise (or with TEST_WORKERS=0) one process, in series.
# nproc + 4: the whole-session tests wait on real time (pcscd's 0.4 s poll of the virtual encoder,
# device timeouts), so on 2 cores 4 workers left a quarter of the CPU idle (/proc/stat during a run:
# 1.45 cores busy) and 6 fill it (1.66; 8 gave no more: 200 / 184 / 182 s for 4 / 6 / 8 workers).
workers=${TEST_WORKERS:-$(($(nproc) + 4))}
parallel=()
if [ "$workers" -gt 0 ] && [ "$(id -u)" -eq 0 ] && scripts/isolated true 2>/dev/null \
    && .venv/bin/python -c 'import xdist' 2>/dev/null; then
  python_cmd=$(printf '%q %q' "$PWD/scripts/isolated" "$PWD/.venv/bin/python")
  parallel=(-p xdist --tx "$workers*popen//python=$python_cmd" --dist worksteal)
  echo "test: $workers isolated workers"
else
  echo "test: one process, in series"
fi
# In a fresh clone the project is not compiled yet and the tests' modules not rewritten (pytest
# rewrites their asserts and caches that in __pycache__); the xdist workers start together and
# each would do both for itself (a worker's collection: 4.2 s so, 1.8 s cached). Done once, here,
# while mypy has the other core, when a test module's rewritten copy is missing or the packages
# were installed anew: the collection imports what the tests import, and the fork server's preload
# (sim/zygote.py) what the whole sessions' processes import.
warm_collection() {
  local module cached stale=
  [ -e .venv/.warm-stamp ] || stale=1  # setup.sh removes it when it installs packages
  for module in tests/*/test_*.py tests/*/conftest.py tests/conftest.py; do
    cached=("${module%/*}/__pycache__/$(basename "$module" .py)".*-pytest-*.pyc)
    if [ ! -e "${cached[0]}" ]; then stale=1; break; fi
  done
  # Every test module has its rewritten copy (pytest checks each against its source's hash: a
  # module edited since is rewritten again in each worker, that one module alone).
  [ -n "$stale" ] || return 0
  .venv/bin/python -m compileall -q -j 0 kiosk devices screens sim fleet run_kiosk.py > /dev/null || true
  .venv/bin/python -m sim.zygote --preload-only > /dev/null 2>&1 &
  local preload=$!
  .venv/bin/python -m pytest -q -p no:cacheprovider -p no:schemathesis -p no:anyio --collect-only \
    --ignore=tests/protocol/test_backend_contract.py > /dev/null 2>&1 || true  # errors show in the run
  wait "$preload" || true
  touch .venv/.warm-stamp
}
# The whole suite: the backend's contract test (schemathesis) runs as a pytest of its own beside
# the others. Its plugin builds every operation's cases at collection, and every xdist worker
# collects every test: 1.5 s of CPU per worker for 14 tests that run in one (a worker's collection
# 3.3 s with it, 1.8 s without; anyio's plugin is not used either). Tests named on the command
# line run as they are, in one pytest.
main=("$@")
contract_pid=
if [ "$#" -eq 0 ]; then
  contract_test=tests/protocol/test_backend_contract.py
  [ -z "${parallel[*]}" ] || warm_collection
  main=(-p no:schemathesis -p no:anyio --ignore="$contract_test")
  contract_log=$(mktemp)
  .venv/bin/python -m pytest -q -p no:cacheprovider -p no:anyio "$contract_test" > "$contract_log" 2>&1 &
  contract_pid=$!
  trap 'kill "$mypy_pid" ${contract_pid:+"$contract_pid"} 2>/dev/null || true; rm -f "$mypy_log" "$contract_log"' EXIT
fi
rc=0
.venv/bin/python -m pytest -q -p no:cacheprovider "${parallel[@]}" "${main[@]}" || rc=$?
if [ -n "$contract_pid" ]; then
  contract_rc=0
  wait "$contract_pid" || contract_rc=$?
  echo "test: the backend's contract ($contract_test):"
  cat "$contract_log"
  [ "$contract_rc" -eq 0 ] || rc=$contract_rc
fi
mypy_rc=0
wait "$mypy_pid" || mypy_rc=$?
cat "$mypy_log"
if [ "$mypy_rc" -ne 0 ]; then
  echo "test: mypy found errors (exit $mypy_rc)"
  exit "$mypy_rc"
fi
exit "$rc"
