#!/usr/bin/env bash
# Installs what tt-agent and its tests need on Debian/Ubuntu, then the npm dependencies,
# then builds. Safe to run again: it only installs what is missing.
#   scripts/install.sh            runtime + build + test packages
#   scripts/install.sh --runtime  only what the agent, the token tools and the build need
#   scripts/install.sh --list     print the Debian packages it would install (all groups), and stop
# Last, when no tt-agent is on PATH yet, it links this clone into npm's global prefix (what
# `npm install -g .` does): tt-agent on PATH, its manual pages where man finds them.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'tt-agent install: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- Debian packages --------------------------------------------------------------------------
# One array per reason. A test or a tool that needs a new package adds it to its group here:
# CI runs this script on a fresh machine, so a package missing here is a test failing there.
# test/docs/install-list.test.ts checks that every program the tests run is covered.
runtime_pkgs=(
  softhsm2        # the demo's token, and the module most tests use
  opensc          # opensc-pkcs11.so, pkcs11-tool
  gnutls-bin      # p11tool
  p11-kit         # module names (`tt-agent add opensc`)
  openssh-client  # ssh, ssh-add, ssh-keygen
  libglib2.0-bin  # gdbus: desktop notifications of key uses (notify yes in ~/.config/tt-agent/config)
  libpcsclite1    # the agent asks pcscd whether a card left its reader mid-signature (reader-watch.ts)
)
build_pkgs=(
  make g++ python3  # node-gyp: the N-API addon and pkcs11js are built from source
)
test_pkgs=(
  openssh-server         # sshd on 127.0.0.1 for the login tests
  openssl                # judges certificates and signatures
  git                    # signing commits through the agent
  tmux                   # a real terminal for the pinentry tests
  procps                 # ps, kill
  dbus                   # dbus-run-session for the keyring tests
  gnome-keyring          # the OS keyring the PIN store talks to
  libsecret-tools        # secret-tool
  gcc                    # rogue and broken PKCS#11 modules the tests compile
  gdb                    # the ptrace test: another uid cannot attach a debugger
  libp11-kit-dev         # pkcs11.h for those modules
  pinentry-tty pinentry-curses
  groff-base             # the manual page test (groff -ww)
  man-db                 # man -w: the manual pages an install puts in man's path
  systemd                # systemd-socket-activate for the socket-activation test
  tcsh fish zsh          # the shells the agent's environment output is evaluated in
  python3-gi             # the fake notification server of the key-use tests (GLib's D-Bus)
  # The token matrix: an opencryptoki soft token, a TPM (swtpm + tpm2-abrmd + tpm2-pkcs11),
  # and private mount namespaces for their fixed config paths (nsenter).
  opencryptoki swtpm tpm2-abrmd tpm2-tools libtpm2-pkcs11-tools libtpm2-pkcs11-1 libtss2-tcti-tabrmd0 util-linux
)
# The emulated PIV card (../shared/vcard/vcard up installs these too, as its PKGS line says):
# pcscd and the vpcd reader driver, OpenSC, and the kit's own tools.
card_pkgs=(
  pcscd vsmartcard-vpcd opensc opensc-pkcs11 python3-cryptography yubico-piv-tool ykcs11
)

wanted=("${runtime_pkgs[@]}" "${build_pkgs[@]}")
case "${1:-}" in
  --runtime) ;;
  --list) printf '%s\n' "${runtime_pkgs[@]}" "${build_pkgs[@]}" "${test_pkgs[@]}" "${card_pkgs[@]}" | sort -u; exit 0 ;;
  "") wanted+=("${test_pkgs[@]}" "${card_pkgs[@]}") ;;
  *) printf 'usage: scripts/install.sh [--runtime | --list]\n' >&2; exit 2 ;;
esac

# --- Node -------------------------------------------------------------------------------------
command -v node >/dev/null || die "Node.js is not installed. Install Node 20 or newer (https://nodejs.org, or 'apt-get install nodejs npm'), then run this again."
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node $(node --version) is too old: tt-agent needs Node 20 or newer."

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

if ! command -v dpkg-query >/dev/null; then
  say "not a Debian-like system: install the equivalents of these packages with your package manager:"
  say "  $(printf '%s ' "${wanted[@]}" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
  say "then run 'npm ci && npm run build'."
  exit 1
fi

missing=()
for pkg in $(printf '%s\n' "${wanted[@]}" | sort -u); do
  installed "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]}. Install them as root: sudo apt-get install ${missing[*]}"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may be running (unattended upgrades, a second install): wait for its lock.
  apt=(apt-get -o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends)
  if ! "${apt[@]}" install "${missing[@]}" >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null || die "apt-get update failed; check the network or the apt sources."
    "${apt[@]}" install "${missing[@]}" >/dev/null ||
      die "apt-get install ${missing[*]} failed; run 'apt-get install ${missing[*]}' by hand to see why."
  fi
fi

# --- npm dependencies and build ---------------------------------------------------------------
# pkcs11js and the addon are compiled here. node-gyp would download Node's headers from
# nodejs.org unless told where the installed Node keeps them.
if nodedir=$(node scripts/node-headers.cjs --dir); then
  export npm_config_nodedir=${npm_config_nodedir:-$nodedir}
fi
if [ ! -d node_modules/pkcs11js ] || [ package.json -nt node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci; builds the native addon and dist/)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null ||
    die "npm ci failed: run 'npm ci' to see why (it needs make, g++, python3 and Node's headers)."
fi
# Also when its sources are newer than the build: a checkout updated in place keeps the old addon.
stale_native() {
  local src
  [ -f build/Release/tt_native.node ] || return 0
  for src in native/* binding.gyp; do
    [ "$src" -nt build/Release/tt_native.node ] && return 0
  done
  return 1
}
if stale_native; then
  say "building the native addon"
  npm run --silent build:native >/dev/null || die "building the native addon failed: run 'npm run build:native' to see why (it needs make, g++ and python3)."
fi
say "building"
npm run --silent build

# --- tt-agent on PATH -------------------------------------------------------------------------
# A tt-agent already on PATH (another clone, a package) is left alone: say how to switch.
prefix=$(npm prefix -g)
current=$(command -v tt-agent || true)
if [ -n "$current" ] && [ "$(readlink -f "$current")" = "$(readlink -f bin/tt-agent)" ]; then
  say "ready: tt-agent $(node bin/tt-agent --version) is on PATH ($current)"
elif [ -n "$current" ]; then
  say "ready. The tt-agent on PATH ($current) is not this clone's: 'npm install -g .' here switches to it."
elif [ -w "$prefix" ] || [ -w "$prefix/lib/node_modules" ]; then
  # Built already: link only (no scripts, no dependencies). 'npm uninstall -g tt-agent' undoes it.
  npm install -g --ignore-scripts --no-audit --no-fund --loglevel=error . >/dev/null ||
    die "linking tt-agent into $prefix failed: run 'npm install -g .' to see why."
  say "ready: tt-agent $(node bin/tt-agent --version) is on PATH as $prefix/bin/tt-agent, man tt-agent works (npm install -g .)"
  case ":$PATH:" in *":$prefix/bin:"*) ;; *) say "add $prefix/bin to PATH" ;; esac
else
  say "ready. To put tt-agent on PATH: sudo npm install -g . (or npm install -g --prefix ~/.local . with ~/.local/bin on PATH)"
fi
