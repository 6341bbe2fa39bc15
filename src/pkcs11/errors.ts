// Typed errors of the token layer. Built from pkcs11js's numeric `code`, never from its
// message text, so that a module's wording or a binding upgrade cannot change behaviour.
// Each says what went wrong in its message and what to do next in its hint (src/hint.ts):
// the same two lines in the CLI, in the agent's log and in a module host's ERROR frame.
import * as pkcs11js from 'pkcs11js';
import { shellWord, type Hinted } from '../hint';

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
export class MechanismNotSupportedError extends Error implements Hinted {
  readonly hint = 'pkcs11-tool --list-mechanisms shows what the token offers; choose another key type.';
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
export class TokenError extends Error implements Hinted {
  /** e.g. 'CKR_PIN_INCORRECT' */
  readonly ckr: string;
  readonly hint: string;
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
    this.hint = ckrHint(ckr);
  }
}

/** What to do about a return value, whatever the function was. */
function ckrHint(ckr: string): string {
  switch (ckr) {
    case 'CKR_PIN_INCORRECT':
      return 'The PIN is incorrect: check it and try again; tokens lock after a few wrong tries.';
    case 'CKR_PIN_LOCKED':
      return "The PIN is locked: unblock it with the SO PIN or PUK using the token's own tool.";
    case 'CKR_TOKEN_NOT_PRESENT':
    case 'CKR_DEVICE_REMOVED':
      return 'The token was removed: insert it again and retry.';
    case 'CKR_TOKEN_WRITE_PROTECTED':
      return "The token is write-protected: lift the token's write protection and try again.";
    case 'CKR_USER_NOT_LOGGED_IN':
      return 'Not logged in: log in with the user PIN (prompt, --pin-source FILE or pin-value in the URI).';
    case 'CKR_MECHANISM_INVALID':
    case 'CKR_MECHANISM_PARAM_INVALID':
    case 'CKR_DOMAIN_PARAMS_INVALID':
    case 'CKR_CURVE_NOT_SUPPORTED':
      return 'The token does not support this: pkcs11-tool --list-mechanisms shows what it offers; choose another key type.';
    case 'CKR_KEY_FUNCTION_NOT_PERMITTED':
    case 'CKR_KEY_TYPE_INCONSISTENT':
      return 'The key may not do this: tt-agent list MODULE shows which keys can sign.';
    case 'CKR_FUNCTION_NOT_SUPPORTED':
    case 'CKR_TEMPLATE_INCONSISTENT':
    case 'CKR_ATTRIBUTE_VALUE_INVALID':
    case 'CKR_ATTRIBUTE_READ_ONLY':
      return (
        'The token or its module does not allow this: PIV cards and many smart cards generate keys and store certificates ' +
        'only through their own tools (e.g. yubico-piv-tool); do that, then use tt-agent selfsign or pubkey.'
      );
    case 'CKR_DEVICE_MEMORY':
      return 'The token is full: delete objects you no longer need (pkcs11-tool --delete-object) and try again.';
    case 'CKR_SESSION_READ_ONLY':
      return 'The session is read-only: the token may be write-protected; check tt-agent list.';
    default:
      return 'Run again with --debug for details; the module may need its own diagnostics.';
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

const MODULE_HINT =
  "Give the path of the token's PKCS#11 module (e.g. /usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so), a p11-kit module name such as 'opensc', or a pkcs11: URI.";

/** The module could not be loaded or initialized. */
export class ModuleLoadError extends Error implements Hinted {
  readonly hint: string;
  constructor(
    readonly modulePath: string,
    readonly reason: ModuleLoadReason,
    /** dlerror() text or the CKR name, for --debug and logs */
    readonly detail: string,
    /** set for 'initialize-failed' */
    readonly ckr?: string,
    /** for 'initialize-failed': the daemon or group the module needs (module-services.ts) */
    options?: { cause?: unknown; hint?: string },
  ) {
    super(moduleLoadMessage(modulePath, reason, detail, ckr), options);
    this.name = 'ModuleLoadError';
    this.hint = options?.hint ?? MODULE_HINT;
  }
}

function moduleLoadMessage(p: string, reason: ModuleLoadReason, detail: string, ckr?: string): string {
  switch (reason) {
    case 'not-found':
      return `PKCS#11 module ${p} does not exist`;
    case 'not-a-file':
      return `PKCS#11 module ${p} is not a file`;
    case 'not-shared-library':
      return `${p} is not a loadable shared library (${detail.replace(`${p}: `, '')})`;
    case 'not-pkcs11':
      return `${p} is a shared library but not a PKCS#11 module (it has no C_GetFunctionList)`;
    case 'initialize-failed':
      return `PKCS#11 module ${p} failed to start: C_Initialize returned ${ckr ?? detail}`;
  }
}

export type ModuleSpecReason =
  | 'unknown-module-name' // no p11-kit config names it
  | 'config-unreadable' // a p11-kit .module file exists but cannot be read
  | 'config-without-module' // a p11-kit .module file has no `module:` line
  | 'no-default-module'; // nothing named and no default installed

const SPEC_HINTS: Record<ModuleSpecReason, string> = {
  'unknown-module-name': "Give the module's path instead, or add a p11-kit config for it (see pkcs11.conf(5)).",
  'config-unreadable': "Fix that file's permissions or remove it, or give the module's path instead of its name.",
  'config-without-module': "Add a 'module: /path/to/module.so' line to it, or give the module's path.",
  'no-default-module': 'Name one (tt-agent list /path/to/module.so), or set TT_AGENT_MODULE.',
};

/** A module name, URI or the default could not be turned into a module path. */
export class ModuleSpecError extends Error implements Hinted {
  readonly hint: string;
  /** A mistyped module name is a usage error, like a bad option. */
  readonly usage: boolean;
  constructor(
    readonly spec: string,
    readonly reason: ModuleSpecReason,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(reason === 'no-default-module' ? 'no PKCS#11 module given, and no default module is installed' : detail, options);
    this.name = 'ModuleSpecError';
    this.hint = SPEC_HINTS[reason];
    this.usage = reason === 'unknown-module-name';
  }
}

/** A pkcs11: URI that does not follow RFC 7512. */
export class UriError extends Error implements Hinted {
  readonly hint =
    "Write it as RFC 7512 says, e.g. 'pkcs11:token=My%20Token;id=%01?module-path=/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so'.";
  readonly usage = true;
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
export class TokenSelectionError extends Error implements Hinted {
  readonly hint: string;
  constructor(
    readonly modulePath: string,
    readonly reason: TokenSelectionReason,
    readonly detail: string,
    /** labels of the tokens that were there, for "did you mean" hints */
    readonly available: string[] = [],
  ) {
    super(detail);
    this.name = 'TokenSelectionError';
    this.hint =
      reason === 'uninitialized'
        ? "Initialize it first with the token's own tool (e.g. softhsm2-util --init-token, pkcs11-tool --init-token)."
        : reason === 'no-match'
          ? `Check the token=/serial= parts of the URI against: tt-agent list ${shellWord(modulePath)}`
          : 'Insert the token or connect the reader (pcsc_scan shows what pcscd sees), then try again.';
  }
}
