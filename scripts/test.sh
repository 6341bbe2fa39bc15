#!/usr/bin/env bash
# The whole suite in two phases: everything that can share the machine runs two files at a
# time; the tests that drive the emulated smart card (one pcscd per machine, timing-sensitive
# hot-plug) then run one file at a time on a quiet machine. Arguments narrow the run to files.
# A full run ends with the newest-LTS tier: protocol, agent and end-to-end files again, on the
# newest Node LTS (fetched from the npm registry, scripts/lts-node.cjs), with the addon built
# against that Node's headers. `scripts/test.sh --lts [FILES]` runs that tier alone;
# TT_AGENT_SKIP_LTS=1 leaves it out.
set -uo pipefail
cd "$(dirname "$0")/.."

# The newest-LTS tier: each of protocol, agent and e2e, about 2-3 minutes on 2 cores.
lts_files=(
  test/protocol/wire.test.ts test/protocol/framing.test.ts test/protocol/messages.test.ts
  test/protocol/openssh-agent.test.ts test/protocol/openssh-keys.test.ts test/protocol/ssh-session-bind.test.ts
  test/agent/ssh-add.test.ts test/agent/ssh-login.test.ts test/agent/starter.test.ts
  test/agent/bad-input.test.ts test/agent/status.test.ts
  test/e2e/token-ssh.test.ts test/native/native.test.ts
)
lts=${TT_AGENT_SKIP_LTS:+no}
lts=${lts:-yes}
files=()
if [ "${1:-}" = --lts ]; then
  lts=yes; shift
  [ $# -eq 0 ] || lts_files=("$@")
elif [ $# -gt 0 ]; then files=("$@"); lts=no
else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
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

lts_tier() {
  local dir addon=build/Release/tt_native.node saved
  dir=$(node scripts/lts-node.cjs) || { echo "LTS tier: no LTS Node (see above)" | tee -a "$log"; status=1; return; }
  echo "# LTS tier: Node $("$dir/bin/node" --version) from $dir" | tee -a "$log"
  saved=$(mktemp); cp "$addon" "$saved"
  # The addon compiled by that Node's npm against its own headers. It is N-API, as is
  # pkcs11js (whose Node 20 build the tier reuses): one binary serves every Node version.
  if ! npm_config_nodedir="$dir" PATH="$dir/bin:$PATH" npm run --silent build:native >"$saved.log" 2>&1; then
    cat "$saved.log"; echo "LTS tier: building the addon against Node $dir failed" | tee -a "$log"; status=1
  else
    PATH="$dir/bin:$PATH" run 2 "${lts_files[@]}"
  fi
  cp "$saved" "$addon"; rm -f "$saved" "$saved.log"
}
[ "$lts" = no ] || lts_tier

# TAP ("# pass 3", Node 20 on a pipe) or the spec reporter ("ℹ pass 3", newer Node).
sum() { grep -E "^(#|ℹ) $1 [0-9]+$" "$log" | awk '{s += $3} END {print s + 0}'; }
echo "tests: $(sum pass) passed, $(sum fail) failed, $(sum skipped) skipped"
exit $status
