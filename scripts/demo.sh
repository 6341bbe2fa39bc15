#!/usr/bin/env bash
# The Quick start demo: a SoftHSM token made on the fly in a temporary directory, a few keys on
# it, tt-agent started on it, and a signature made by the token and checked by OpenSSH.
# Everything it makes lives in one temporary directory, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
TT="node $PWD/bin/tt-agent"
MODULE=/usr/lib/softhsm/libsofthsm2.so
PIN=123456

[ -e "$MODULE" ] || { echo "demo: SoftHSM is not installed; run scripts/install.sh first." >&2; exit 1; }
[ -f dist/cli/main.js ] || { echo "demo: tt-agent is not built; run scripts/install.sh first." >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tt-agent-demo.XXXXXX")
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Bold commands on a terminal only: piped or logged, the output stays plain text.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
run() { step "$*"; eval "$@"; }

# A private SoftHSM configuration: the demo never touches the machine's own tokens.
mkdir -p "$work/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work/tokens" >"$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf"

echo "tt-agent demo: a throw-away SoftHSM token in $work"
softhsm2-util --init-token --free --label demo --so-pin 12345678 --pin "$PIN" >/dev/null
# Keys made on the token by tt-agent itself; the PIN comes from a file only this demo reads.
printf '%s\n' "$PIN" >"$work/pin"; chmod 600 "$work/pin"
run "$TT keygen $MODULE --type ec:p256 --label demo-p256 --pin-source $work/pin"
run "$TT keygen $MODULE --type ed25519 --label demo-ed25519 --pin-source $work/pin --selfsign"
run "$TT keygen $MODULE --type rsa:2048 --label demo-rsa --pin-source $work/pin"

run "$TT list 'pkcs11:token=demo?module-path=$MODULE&pin-source=file:$work/pin'"
run "$TT pubkey $MODULE"

# The agent, on a socket of its own so the demo never disturbs an agent you already run.
step "eval \$($TT -a $work/agent.sock)"
eval "$($TT -a "$work/agent.sock")"
agent_pid=$SSH_AGENT_PID

# The PIN comes from an askpass program, as it would from a desktop prompt.
printf '#!/bin/sh\necho %s\n' "$PIN" >"$work/askpass"; chmod 700 "$work/askpass"
run "SSH_ASKPASS=$work/askpass SSH_ASKPASS_REQUIRE=force $TT add $MODULE"
run "ssh-add -l"

# A signature by the token, through the agent, checked by OpenSSH itself.
echo "signed by a key that never left the token" >"$work/message"
ssh-add -L | grep demo-p256 >"$work/demo-p256.pub"
printf 'demo@example %s\n' "$(cut -d' ' -f1,2 "$work/demo-p256.pub")" >"$work/allowed_signers"
run "ssh-keygen -Y sign -q -n file -f $work/demo-p256.pub $work/message && echo signed: $work/message.sig"
run "ssh-keygen -Y verify -n file -f $work/allowed_signers -I demo@example -s $work/message.sig <$work/message"

step "$TT -k"
$TT -k >/dev/null
agent_pid=
echo
echo "demo: done. Next: 'tt-agent add /usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so' with a real card; see README.md."
