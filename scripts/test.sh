#!/usr/bin/env bash
# The whole suite in two phases: everything that can share the machine runs two files at a
# time; the tests that drive the emulated smart card (one pcscd per machine, timing-sensitive
# hot-plug) then run one file at a time on a quiet machine. Arguments narrow the run to files.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
card=(); rest=()
for f in "${files[@]}"; do
  if grep -q "helpers/vcard" "$f"; then card+=("$f"); else rest+=("$f"); fi
done

log=$(mktemp); trap 'rm -f "$log"' EXIT
status=0
run() { # concurrency files...
  local c=$1; shift
  [ $# -gt 0 ] || return 0
  node --test --test-concurrency="$c" --test-timeout=300000 --import tsx "$@" 2>&1 | tee -a "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}
run 2 "${rest[@]}"
run 1 "${card[@]}"

sum() { grep -E "^# $1 [0-9]+$" "$log" | awk '{s += $3} END {print s + 0}'; }
echo "tests: $(sum pass) passed, $(sum fail) failed, $(sum skipped) skipped"
exit $status
