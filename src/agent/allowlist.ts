// Which PKCS#11 modules the agent may load, as OpenSSH's `ssh-agent -P`: a comma-separated
// list of glob patterns matched against the module's realpath (never the name the client sent,
// so a symlink in /tmp cannot smuggle a library in). `*` and `?` match any characters, '/'
// included, and a pattern starting with '!' vetoes whatever it matches.
import { realpath, stat } from 'node:fs/promises';
import { elfExportsSymbol } from './elf-exports';
import { globMatches } from '../protocol/glob';

export const DEFAULT_ALLOWLIST = [
  '/usr/lib*/*',
  '/usr/local/lib*/*',
  '/usr/lib*/pkcs11/*',
  '/usr/lib/*/pkcs11/*',
];

export function parseAllowlist(list: string): string[] {
  return list
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

export function allowlistPermits(realPath: string, allowlist: readonly string[]): boolean {
  let permitted = false;
  for (const pattern of allowlist) {
    if (pattern.startsWith('!')) {
      if (globMatches(realPath, pattern.slice(1))) return false;
    } else if (globMatches(realPath, pattern)) {
      permitted = true;
    }
  }
  return permitted;
}

/** A refusal says why, and what to do next (src/hint.ts) when that is known. */
export type ModuleCheck = { ok: true; realPath: string } | { ok: false; realPath?: string; reason: string; hint?: string };

const NOT_A_MODULE = "Give the path of the token's PKCS#11 module, e.g. /usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so.";

/**
 * Resolves the module path and checks it: the realpath must be in the allowlist, and the file
 * must export C_GetFunctionList (read from the ELF file, so nothing is mapped before the check).
 * A refusal's reason names the realpath and, for the allowlist, the list.
 */
export async function checkModule(requested: string, allowlist: readonly string[]): Promise<ModuleCheck> {
  let realPath: string;
  try {
    realPath = await realpath(requested);
  } catch (err) {
    return { ok: false, reason: `module ${JSON.stringify(requested)} not found (${(err as NodeJS.ErrnoException).code})`, hint: NOT_A_MODULE };
  }
  if (!allowlistPermits(realPath, allowlist)) {
    return {
      ok: false,
      realPath,
      reason: `module ${realPath} is not in the allowlist ${allowlist.join(',')} (start the agent with -P to allow it)`,
      hint: 'Start the agent with -P covering that path, or use a module inside the allowlist.',
    };
  }
  try {
    if (!(await stat(realPath)).isFile()) return { ok: false, realPath, reason: `module ${realPath} is not a regular file`, hint: NOT_A_MODULE };
    if (!(await elfExportsSymbol(realPath, 'C_GetFunctionList'))) {
      const reason = `${realPath} does not export C_GetFunctionList, so it is not a PKCS#11 module; it was not loaded`;
      return { ok: false, realPath, reason, hint: NOT_A_MODULE };
    }
  } catch (err) {
    return { ok: false, realPath, reason: `cannot check module ${realPath}: ${(err as Error).message}` };
  }
  return { ok: true, realPath };
}
