// Loading a PKCS#11 module and enumerating its tokens.
import * as fs from 'node:fs';
import { PKCS11, CKF_OS_LOCKING_OK, CKR_CRYPTOKI_ALREADY_INITIALIZED, CKR_GENERAL_ERROR } from 'pkcs11js';
import { nativeAvailable, initializeWithoutLocking } from '../native';
import { call, ckrName, ModuleLoadError, TokenError } from './errors';
import { initializeFailureHint } from './module-services';
import { pkcs11String, ulongHandle } from './strings';
import { CKF_TOKEN_PRESENT, Token, readTokenInfo, type SlotInfo } from './token';

export interface OpenModuleOptions {
  /**
   * Pass CKF_OS_LOCKING_OK to C_Initialize (default true). Some modules deadlock with it
   * when a reader disappears (see the vcard notes); the host can turn it off.
   */
  osLocking?: boolean;
}

export interface ModuleInfo {
  manufacturer: string;
  description: string;
  cryptokiVersion: string;
  libraryVersion: string;
}

export interface SlotScan {
  /** tokens present and initialized: the usable ones */
  tokens: Token[];
  /** slots whose token is present but not initialized (reported, never used) */
  uninitialized: SlotInfo[];
  /** slots without a token */
  empty: SlotInfo[];
}

// One pkcs11js instance per realpath: a second C_Initialize on the same library answers
// CKR_CRYPTOKI_ALREADY_INITIALIZED, and a C_Finalize by one user would pull the rug from
// under the other, so users share the instance and the last close() finalizes.
const loaded = new Map<string, { lib: PKCS11; refs: number }>();

export class Pkcs11Module {
  private closed = false;
  private scanCache: SlotScan | undefined;

  constructor(
    /** the path as given */
    readonly path: string,
    /** after symlinks, what the allowlist is checked against */
    readonly realPath: string,
    /** the binding; only code in src/pkcs11 touches it */
    readonly lib: PKCS11,
  ) {}

  info(): ModuleInfo {
    const i = call('C_GetInfo', () => this.lib.C_GetInfo());
    return {
      manufacturer: pkcs11String(i.manufacturerID),
      description: pkcs11String(i.libraryDescription),
      cryptokiVersion: `${i.cryptokiVersion.major}.${i.cryptokiVersion.minor}`,
      libraryVersion: `${i.libraryVersion.major}.${i.libraryVersion.minor}`,
    };
  }

  /** Usable tokens (present and initialized), in slot order. */
  slots(): Token[] {
    return this.scan().tokens;
  }

  /** The full picture of the slots, read once and cached until rescan(). */
  scan(): SlotScan {
    if (!this.scanCache) this.scanCache = this.readSlots();
    return this.scanCache;
  }

  /** Forgets what was known about slots and tokens (after a removal) and reads them again. */
  rescan(): SlotScan {
    this.scanCache = undefined;
    return this.scan();
  }

  private readSlots(): SlotScan {
    this.assertOpen();
    const result: SlotScan = { tokens: [], uninitialized: [], empty: [] };
    const slotIds = call('C_GetSlotList', () => this.lib.C_GetSlotList(false));
    for (const slotId of slotIds) {
      let si;
      try {
        si = call('C_GetSlotInfo', () => this.lib.C_GetSlotInfo(slotId));
      } catch (err) {
        // A reader can vanish between the two calls; it is simply not there any more.
        if (err instanceof TokenError && err.ckr === 'CKR_SLOT_ID_INVALID') continue;
        throw err;
      }
      const slot: SlotInfo = {
        slotId,
        slotNumber: ulongHandle(slotId),
        description: pkcs11String(si.slotDescription),
        manufacturer: pkcs11String(si.manufacturerID),
      };
      if (!(si.flags & CKF_TOKEN_PRESENT)) {
        result.empty.push(slot);
        continue;
      }
      let info;
      try {
        info = readTokenInfo(this.lib, slotId);
      } catch (err) {
        if (err instanceof TokenError && ['CKR_TOKEN_NOT_PRESENT', 'CKR_TOKEN_NOT_RECOGNIZED', 'CKR_DEVICE_REMOVED'].includes(err.ckr)) {
          result.empty.push(slot);
          continue;
        }
        throw err;
      }
      if (!info.initialized) result.uninitialized.push(slot);
      else result.tokens.push(new Token(this.lib, slot, info));
    }
    return result;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const entry = loaded.get(this.realPath);
    if (!entry) return;
    if (--entry.refs > 0) return;
    loaded.delete(this.realPath);
    try {
      entry.lib.C_Finalize();
    } catch {
      // Finalizing is best effort: the process is letting go of the module either way.
    }
    try {
      entry.lib.close();
    } catch {
      // as above
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`PKCS#11 module ${this.path} is closed`);
  }
}

/** Loads and initializes a module; throws ModuleLoadError saying which step failed. */
export function openModule(path: string, options: OpenModuleOptions = {}): Pkcs11Module {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (err) {
    throw new ModuleLoadError(path, 'not-found', (err as NodeJS.ErrnoException).code ?? String(err), undefined, { cause: err });
  }
  if (!st.isFile()) throw new ModuleLoadError(path, 'not-a-file', 'not a regular file');
  const realPath = fs.realpathSync(path);
  const shared = loaded.get(realPath);
  if (shared) {
    shared.refs++;
    return new Pkcs11Module(path, realPath, shared.lib);
  }

  const lib = new PKCS11();
  try {
    lib.load(path);
  } catch (err) {
    // dlopen/dlsym failures carry no code, only dlerror() text; the symbol name is the one
    // stable part of it and tells "some library" from "no library at all".
    const text = err instanceof Error ? err.message : String(err);
    const reason = /C_GetFunctionList/.test(text) ? 'not-pkcs11' : 'not-shared-library';
    throw new ModuleLoadError(path, reason, text, undefined, { cause: err });
  }
  try {
    initialize(lib, path, options.osLocking !== false);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      // Initialized by someone else in this process (another binding instance): usable as is.
    } else {
      const te = new TokenError('C_Initialize', typeof code === 'number' ? code : CKR_GENERAL_ERROR, { cause: err });
      try {
        lib.close();
      } catch {
        // nothing more to undo
      }
      throw new ModuleLoadError(path, 'initialize-failed', te.message, te.ckr, { cause: te, hint: initializeFailureHint(path) });
    }
  }
  loaded.set(realPath, { lib, refs: 1 });
  return new Pkcs11Module(path, realPath, lib);
}

/**
 * C_Initialize with CKF_OS_LOCKING_OK, or with NULL_PTR: no locking at all, the caller promises
 * one call at a time. pkcs11js always passes an argument structure (flags 0), which OpenSC 0.23
 * reads as "use OS locking" and then deadlocks when a card call meets a removal (see the
 * emulated card's notes); our native addon makes the NULL_PTR call where it is built.
 */
function initialize(lib: PKCS11, path: string, osLocking: boolean): void {
  if (osLocking) {
    lib.C_Initialize({ flags: CKF_OS_LOCKING_OK });
    return;
  }
  if (nativeAvailable()) {
    const rv = initializeWithoutLocking(lib, path);
    if (rv !== 0) throw Object.assign(new Error(`C_Initialize: ${ckrName(rv)}`), { code: rv });
    return;
  }
  lib.C_Initialize({});
}
