// Typed errors of the token layer. Built from pkcs11js's numeric `code`, never from its
// message text, so that a module's wording or a binding upgrade cannot change behaviour.
import * as pkcs11js from 'pkcs11js';

let names: Map<number, string> | undefined;

/** `CKR_*` name of a return value, e.g. 0xA0 → 'CKR_PIN_INCORRECT'. */
export function ckrName(code: number): string {
  if (!names) {
    names = new Map();
    for (const [k, v] of Object.entries(pkcs11js)) {
      // The first name wins: later aliases (CKR_*_DEPRECATED spellings) add nothing.
      if (k.startsWith('CKR_') && typeof v === 'number' && !names.has(v)) names.set(v, k);
    }
  }
  const name = names.get(code);
  if (name) return name;
  if (code >= 0x80000000) return `CKR_VENDOR_DEFINED+0x${(code - 0x80000000).toString(16)}`;
  return `CKR_0x${code.toString(16)}`;
}

/** The token does not offer a mechanism an operation needs (checked before the token is asked). */
export class MechanismNotSupportedError extends Error {
  constructor(
    /** e.g. 'CKM_EC_EDWARDS_KEY_PAIR_GEN' */
    readonly mechanism: string,
    /** e.g. 'key generation', 'signing' */
    readonly purpose: string,
  ) {
    super(`the token does not support ${mechanism} (${purpose})`);
    this.name = 'MechanismNotSupportedError';
  }
}

/** A PKCS#11 function returned something other than CKR_OK. */
export class TokenError extends Error {
  /** e.g. 'CKR_PIN_INCORRECT' */
  readonly ckr: string;
  constructor(
    /** the PKCS#11 function, e.g. 'C_Login' */
    readonly fn: string,
    /** the CK_RV value */
    readonly code: number,
    options?: { cause?: unknown },
  ) {
    const ckr = ckrName(code);
    super(`${fn} failed: ${ckr}`, options);
    this.name = 'TokenError';
    this.ckr = ckr;
  }
}

/**
 * Turns whatever pkcs11js threw into a TokenError when it carries a CK_RV; anything else
 * (TypeError from a wrong argument, a bug) is passed through untouched.
 */
export function toTokenError(err: unknown, fn: string): unknown {
  if (err instanceof TokenError) return err;
  const e = err as { name?: unknown; code?: unknown } | null;
  if (e && e.name === 'Pkcs11Error' && typeof e.code === 'number') return new TokenError(fn, e.code, { cause: err });
  // pkcs11js 2.1 wraps the template calls (C_CreateObject, C_SetAttributeValue, C_CopyObject)
  // in JS and rethrows their failures as a plain Error('CKR_NAME:code') without `.code`.
  const m = err instanceof Error && err.name === 'Error' ? /^CKR_\w+:(\d+)$/.exec(err.message) : null;
  if (m) return new TokenError(fn, Number(m[1]), { cause: err });
  return err;
}

/** Runs one pkcs11js call, rethrowing its failure as a TokenError named after `fn`. */
export function call<T>(fn: string, body: () => T): T {
  try {
    return body();
  } catch (err) {
    throw toTokenError(err, fn);
  }
}

export type ModuleLoadReason =
  | 'not-found' // no such file
  | 'not-a-file' // a directory or a device
  | 'not-shared-library' // dlopen refused it (not ELF, wrong architecture, missing dependency)
  | 'not-pkcs11' // a shared library without C_GetFunctionList
  | 'initialize-failed'; // C_Initialize returned an error

/** The module could not be loaded or initialized. */
export class ModuleLoadError extends Error {
  /** for 'initialize-failed': the daemon or group the module needs (module-services.ts); crosses the host pipe */
  hint?: string;
  constructor(
    readonly modulePath: string,
    readonly reason: ModuleLoadReason,
    /** dlerror() text or the CKR name, for --debug and logs */
    readonly detail: string,
    /** set for 'initialize-failed' */
    readonly ckr?: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot load PKCS#11 module ${modulePath}: ${reason} (${detail})`, options);
    this.name = 'ModuleLoadError';
  }
}

export type ModuleSpecReason =
  | 'unknown-module-name' // no p11-kit config names it
  | 'config-unreadable' // a p11-kit .module file exists but cannot be read
  | 'config-without-module' // a p11-kit .module file has no `module:` line
  | 'no-default-module'; // nothing named and no default installed

/** A module name, URI or the default could not be turned into a module path. */
export class ModuleSpecError extends Error {
  constructor(
    readonly spec: string,
    readonly reason: ModuleSpecReason,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot resolve PKCS#11 module '${spec}': ${detail}`, options);
    this.name = 'ModuleSpecError';
  }
}

/** A pkcs11: URI that does not follow RFC 7512. */
export class UriError extends Error {
  constructor(
    readonly uri: string,
    /** the offending piece of the URI, verbatim */
    readonly part: string,
    readonly detail: string,
  ) {
    super(`malformed pkcs11: URI at '${part}': ${detail}`);
    this.name = 'UriError';
  }
}

export type TokenSelectionReason =
  | 'no-slots' // the module reports no slot at all
  | 'no-token' // slots, but no token present in any
  | 'uninitialized' // tokens present, none initialized
  | 'no-match'; // tokens, but none matches the URI

/** No usable token: nothing inserted, not initialized, or not the one the URI names. */
export class TokenSelectionError extends Error {
  constructor(
    readonly modulePath: string,
    readonly reason: TokenSelectionReason,
    readonly detail: string,
    /** labels of the tokens that were there, for "did you mean" hints */
    readonly available: string[] = [],
  ) {
    super(detail);
    this.name = 'TokenSelectionError';
  }
}
