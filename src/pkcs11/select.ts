// Narrowing a module's tokens and a token's keys down to what a pkcs11: URI names.
import * as fs from 'node:fs';
import type { KeyPair } from './discover';
import { TokenSelectionError, UriError } from './errors';
import type { Pkcs11Module } from './module';
import type { Token } from './token';
import type { Pkcs11Uri } from './uri';

/**
 * The usable tokens the URI selects (all when no URI). Throws TokenSelectionError when there
 * are none, saying whether nothing is inserted, nothing is initialized, or nothing matches.
 */
export function selectTokens(module: Pkcs11Module, uri?: Pkcs11Uri): Token[] {
  const scan = module.scan();
  if (scan.tokens.length === 0) {
    if (scan.uninitialized.length > 0) {
      const where = scan.uninitialized.map((s) => s.description || 'slot').join(', ');
      throw new TokenSelectionError(module.path, 'uninitialized', `the token in ${where} is not initialized`);
    }
    if (scan.empty.length > 0) throw new TokenSelectionError(module.path, 'no-token', `no token present in ${module.path}`);
    throw new TokenSelectionError(module.path, 'no-slots', `${module.path} reports no slots (no reader connected?)`);
  }
  if (!uri) return scan.tokens;
  const lib = needsLibraryInfo(uri) ? module.info() : undefined;
  const matches = scan.tokens.filter((t) => {
    const i = t.info;
    return (
      eq(uri.token, i.label) &&
      eq(uri.serial, i.serial) &&
      eq(uri.manufacturer, i.manufacturer) &&
      eq(uri.model, i.model) &&
      eq(uri.slotDescription, t.slot.description) &&
      eq(uri.slotManufacturer, t.slot.manufacturer) &&
      (uri.slotId === undefined || uri.slotId === t.slot.slotNumber) &&
      eq(uri.libraryManufacturer, lib?.manufacturer) &&
      eq(uri.libraryDescription, lib?.description) &&
      eq(uri.libraryVersion, lib?.libraryVersion)
    );
  });
  if (matches.length === 0) {
    const available = scan.tokens.map((t) => t.label);
    throw new TokenSelectionError(
      module.path,
      'no-match',
      `no token matches ${uri.text} (tokens: ${available.map((l) => `'${l}'`).join(', ')})`,
      available,
    );
  }
  return matches;
}

/** The key pairs that the URI's id=, object= and type= select. */
export function selectKeyPairs(pairs: KeyPair[], uri?: Pkcs11Uri): KeyPair[] {
  if (!uri) return pairs;
  return pairs.filter((p) => {
    const objs = [p.objects.privateKey, p.objects.publicKeyObject, p.objects.certificate].filter((o) => o !== undefined);
    if (uri.id && !objs.some((o) => o.id.equals(uri.id!))) return false;
    if (uri.object !== undefined && !objs.some((o) => o.label === uri.object)) return false;
    if (uri.type === 'private' && !p.privateKey) return false;
    if (uri.type === 'public' && !p.publicKeyObject && !p.publicKey) return false;
    if (uri.type === 'cert' && !p.certificate) return false;
    if (uri.type === 'secret-key' || uri.type === 'data') return false;
    return true;
  });
}

/**
 * The PIN a URI carries: pin-value literally, or pin-source as a file (`file:` URI or a
 * path). Undefined when the URI names none.
 */
export function pinFromUri(uri: Pkcs11Uri | undefined): Buffer | undefined {
  if (!uri) return undefined;
  if (uri.pinValue !== undefined) return Buffer.from(uri.pinValue, 'utf8');
  if (uri.pinSource === undefined) return undefined;
  let file = uri.pinSource;
  if (file.startsWith('file:')) file = decodeURIComponent(file.replace(/^file:(\/\/[^/]*)?/, ''));
  else if (/^[a-z][a-z0-9+.-]*:/i.test(file)) {
    throw new UriError(uri.text, `pin-source=${uri.pinSource}`, "only 'file:' PIN sources are supported");
  }
  const text = fs.readFileSync(file);
  // A trailing newline is what every editor and `echo` leave; it is never part of a PIN.
  return text.subarray(0, text.length - (text.at(-1) === 0x0a ? (text.at(-2) === 0x0d ? 2 : 1) : 0));
}

function eq(want: string | undefined, have: string | undefined): boolean {
  return want === undefined || want === have;
}

function needsLibraryInfo(uri: Pkcs11Uri): boolean {
  return uri.libraryManufacturer !== undefined || uri.libraryDescription !== undefined || uri.libraryVersion !== undefined;
}
