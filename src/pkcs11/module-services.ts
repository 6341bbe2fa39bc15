// What a module needs around it to start: the daemon it talks to and the group its user must be
// in. C_Initialize answers only with a CK_RV (opencryptoki says CKR_HOST_MEMORY or
// CKR_FUNCTION_FAILED when pkcsslotd is down), so the name of the module is the one clue to what
// the user should check. Known by the library's file name, as given or after symlinks.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ModuleService {
  /** the module family, e.g. 'opencryptoki' */
  family: string;
  /** the daemon it needs running, e.g. 'pkcsslotd' */
  daemon: string;
  /** what to run or set to get it going */
  start: string;
  /** a group the user must belong to, when the module checks one */
  group?: string;
}

const SERVICES: { match: RegExp; service: ModuleService }[] = [
  {
    match: /opencryptoki|PKCS11_API/i,
    service: { family: 'opencryptoki', daemon: 'pkcsslotd', start: 'systemctl start pkcsslotd (pkcsconf -t lists its tokens)', group: 'pkcs11' },
  },
  {
    match: /tpm2_pkcs11/,
    service: {
      family: 'tpm2-pkcs11',
      daemon: 'tpm2-abrmd (or the TPM that TPM2_PKCS11_TCTI names)',
      start: 'systemctl start tpm2-abrmd, or set TPM2_PKCS11_TCTI (e.g. device:/dev/tpmrm0, which needs the tss group); tpm2_ptool listtokens checks the store',
    },
  },
  {
    match: /opensc-pkcs11|ykcs11|coolkey|cackey|libpcsc/i,
    service: { family: 'this smart-card module', daemon: 'pcscd', start: 'systemctl start pcscd.socket (pcsc_scan shows the readers it sees)' },
  },
  {
    match: /softhsm/i,
    service: { family: 'SoftHSM', daemon: 'no daemon', start: 'check SOFTHSM2_CONF and that its directories.tokendir exists and is readable' },
  },
  {
    match: /p11-kit-proxy|libp11-kit/,
    service: { family: 'p11-kit', daemon: 'the daemons of the modules p11-kit loads', start: "p11-kit list-modules names them; try each module's own path to find the one that fails" },
  },
];

/** The service a module depends on, judged from its file name (as given, then its realpath). */
export function moduleService(modulePath: string): ModuleService | undefined {
  for (const p of [modulePath, safeRealpath(modulePath)]) {
    const base = path.basename(p);
    const hit = SERVICES.find((s) => s.match.test(base));
    if (hit) return hit.service;
  }
  return undefined;
}

/**
 * True when `group` exists and this process is not in it. Read from /etc/group: a user added
 * to the group after logging in is not in it yet either, which is exactly what this reports.
 */
export function missingGroup(group: string, groupFile = '/etc/group'): boolean {
  let text: string;
  try {
    text = fs.readFileSync(groupFile, 'utf8');
  } catch {
    return false;
  }
  const line = text.split('\n').find((l) => l.split(':')[0] === group);
  if (!line) return false;
  const gid = Number(line.split(':')[2]);
  if (!Number.isInteger(gid)) return false;
  if (process.getuid?.() === 0) return false;
  const mine = new Set([process.getgid?.(), process.getegid?.(), ...(process.getgroups?.() ?? [])]);
  return !mine.has(gid);
}

/** What to tell a user whose C_Initialize failed: the daemon to start, the group to join. */
export function initializeFailureHint(modulePath: string): string {
  const s = moduleService(modulePath);
  if (!s) return "Check the module's configuration and that its service (e.g. pcscd) is running.";
  const parts: string[] = [];
  if (s.group && missingGroup(s.group)) {
    parts.push(`You are not in the '${s.group}' group, which ${s.family} requires: sudo usermod -aG ${s.group} $USER, then log in again.`);
  }
  if (s.daemon === 'no daemon') parts.push(`${s.family}: ${s.start[0]!.toUpperCase()}${s.start.slice(1)}.`);
  else parts.push(`${s.family} needs ${s.daemon} running: ${s.start}.`);
  return parts.join(' ');
}

/** tpm2-pkcs11, known by its CK_INFO (manufacturerID "tpm2-software.github.io", "TPM2.0 Cryptoki"). */
export function isTpm2Pkcs11(info: { manufacturer: string; description: string }): boolean {
  return /^tpm2-software/.test(info.manufacturer) || /^TPM2\.0 Cryptoki/.test(info.description);
}

/**
 * Why C_Login on a tpm2-pkcs11 token fails with CKR_GENERAL_ERROR although the PIN is right: the
 * TPM has room for only a few loaded objects and sessions (three transient objects on many
 * chips), and a process that ended without C_Finalize (killed, crashed) left its own loaded.
 * With a direct TCTI (device:/dev/tpmrm0 aside) nothing unloads them; tpm2-abrmd and the
 * kernel's /dev/tpmrm0 do it when the process goes away.
 */
export const TPM_CONTEXTS_HINT =
  'A process that used the TPM ended without finalizing (a module host that was killed, for instance) and left its objects and sessions loaded, so the TPM has no room for this login. ' +
  'Unload the module (tt-agent remove MODULE: a direct TCTI admits one process at a time), clear them with `tpm2_flushcontext -t; tpm2_flushcontext -s` ' +
  '(tpm2-tools, with TPM2TOOLS_TCTI set to the TCTI the module uses), then add the token again; ' +
  'a resource manager (tpm2-abrmd, or the TCTI device:/dev/tpmrm0) clears them by itself.';

function safeRealpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}
