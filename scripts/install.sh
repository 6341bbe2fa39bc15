#!/usr/bin/env bash
# Installs what tt-agent and its tests need on Debian/Ubuntu, then the npm dependencies,
# then builds. Safe to run again: it only installs what is missing.
#   scripts/install.sh            runtime + test tools
#   scripts/install.sh --runtime  only what the agent and the token tools need
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'tt-agent install: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- Node -----------------------------------------------------------------------------------
command -v node >/dev/null || die "Node.js is not installed. Install Node 20 or newer (e.g. 'apt-get install nodejs npm'), then run this again."
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node $(node --version) is too old: tt-agent needs Node 20 or newer."

# --- Debian packages --------------------------------------------------------------------------
# command or file that proves a package is there  ->  the package that provides it
runtime=(
  "/usr/lib/softhsm/libsofthsm2.so:softhsm2"
  "pkcs11-tool:opensc"
  "p11tool:gnutls-bin"
  "p11-kit:p11-kit"
  "ssh-add:openssh-client"
  "make:make"
  "g++:g++"
  "python3:python3"
)
tests=(
  "sshd:openssh-server"
  "openssl:openssl"
  "git:git"
  "tmux:tmux"
  "ps:procps"
  "dbus-run-session:dbus"
  "gnome-keyring-daemon:gnome-keyring"
  "pcscd:pcscd"
  "cc:gcc"
  "/usr/include/p11-kit-1/p11-kit/pkcs11.h:libp11-kit-dev"
  "pinentry-tty:pinentry-tty"
  "pinentry-curses:pinentry-curses"
  "secret-tool:libsecret-tools"
  "groff:groff-base"
  "systemd-socket-activate:systemd"
  "pkcsslotd:opencryptoki"
  "swtpm:swtpm"
  "tpm2-abrmd:tpm2-abrmd"
  "tpm2_flushcontext:tpm2-tools"
  "tpm2_ptool:libtpm2-pkcs11-tools"
  "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so:libtpm2-pkcs11-1"
  "/usr/lib/x86_64-linux-gnu/libtss2-tcti-tabrmd.so.0:libtss2-tcti-tabrmd0"
  "/usr/lib/x86_64-linux-gnu/libykcs11.so.2:ykcs11"
  "nsenter:util-linux"
)
wanted=("${runtime[@]}")
[ "${1:-}" = "--runtime" ] || wanted+=("${tests[@]}")

have() {
  case "$1" in
    /*) [ -e "$1" ] ;;
    sshd) [ -x /usr/sbin/sshd ] ;;
    pcscd) [ -x /usr/sbin/pcscd ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for pair in "${wanted[@]}"; do
  probe=${pair%%:*}; pkg=${pair##*:}
  have "$probe" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]}. Run as root, or: sudo apt-get install ${missing[*]}"
  fi
  if ! command -v apt-get >/dev/null; then
    die "missing packages: ${missing[*]}, and this is not a Debian-like system. Install their equivalents with your package manager, then run this again."
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed; check the network or the apt sources."
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed; run it by hand to see why."
fi

# --- npm dependencies and build ---------------------------------------------------------------
if [ ! -d node_modules/pkcs11js ] || [ package.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
fi
if [ ! -f build/Release/tt_native.node ]; then
  say "building the native addon"
  npm run --silent build:native >/dev/null || die "building the native addon failed: run 'npm run build:native' to see why (it needs make, g++ and python3)."
fi
say "building"
npm run --silent build
say "ready: $(node bin/tt-agent --version 2>/dev/null || echo built)"
