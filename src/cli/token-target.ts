// Shared by the token commands: turn the MODULE|URI argument into an open module, the
// tokens it selects, and the PIN the URI carries (if any).
import {
  openModule,
  pinFromUri,
  resolveModuleSpec,
  selectTokens,
  type Pkcs11Module,
  type Pkcs11Uri,
  type ResolvedModule,
  type Token,
} from '../pkcs11';
import { UserError } from './user-error';

export interface Target {
  resolved: ResolvedModule;
  module: Pkcs11Module;
  tokens: Token[];
  uri?: Pkcs11Uri;
  /** from the URI's pin-value / pin-source */
  pin?: Buffer;
}

/**
 * Opens what the user named. When nothing was named the default is used and `note` is told
 * which module that is, so a surprising default never goes unnoticed.
 */
export function openTarget(spec: string | undefined, note: (line: string) => void): Target {
  const resolved = resolveModuleSpec(spec);
  if (resolved.source === 'env') note(`using PKCS#11 module ${resolved.modulePath} (from TT_AGENT_MODULE)`);
  else if (resolved.source === 'default' || (spec === undefined && resolved.uri === undefined)) {
    note(`using PKCS#11 module ${resolved.modulePath} (default; name another or set TT_AGENT_MODULE)`);
  }
  const pin = pinFromUri(resolved.uri);
  const module = openModule(resolved.modulePath);
  try {
    const tokens = selectTokens(module, resolved.uri);
    return { resolved, module, tokens, uri: resolved.uri, pin };
  } catch (err) {
    module.close();
    throw err;
  }
}

/** Parses --id: hex, with or without colons/spaces ("01", "a1:b2"). */
export function parseHexId(text: string): Buffer {
  const clean = text.replace(/[:\s]/g, '').replace(/^0x/i, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(clean)) {
    throw new UserError(
      `--id '${text}' is not hex bytes`,
      'Give the CKA_ID as hex, e.g. --id 01 or --id a1b2 (tt-agent list shows the IDs).',
      2,
    );
  }
  return Buffer.from(clean, 'hex');
}
