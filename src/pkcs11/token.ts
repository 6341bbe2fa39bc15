// One token in one slot: its CK_TOKEN_INFO in readable form, and the way to open sessions.
import { CKF_RW_SESSION, CKF_SERIAL_SESSION, type PKCS11 } from 'pkcs11js';
import { call } from './errors';
import { Session } from './session';
import { pkcs11String, ulongHandle } from './strings';

export interface SlotInfo {
  /** the binding's CK_SLOT_ID handle */
  slotId: Buffer;
  /** CK_SLOT_ID as a number, as `slot-id=` in a pkcs11: URI and other tools show it */
  slotNumber: number;
  /** CK_SLOT_INFO.slotDescription; empty on some modules */
  description: string;
  manufacturer: string;
}

// CK_SLOT_INFO flag (PKCS#11 2.40 section 3.2); pkcs11js has it at run time but not in its typings.
export const CKF_TOKEN_PRESENT = 0x1;

// CK_TOKEN_INFO flags (PKCS#11 2.40 section 3.2).
export const CKF_WRITE_PROTECTED = 0x2;
export const CKF_LOGIN_REQUIRED = 0x4;
export const CKF_USER_PIN_INITIALIZED = 0x8;
export const CKF_PROTECTED_AUTHENTICATION_PATH = 0x100;
export const CKF_TOKEN_INITIALIZED = 0x400;
export const CKF_USER_PIN_COUNT_LOW = 0x10000;
export const CKF_USER_PIN_FINAL_TRY = 0x20000;
export const CKF_USER_PIN_LOCKED = 0x40000;
export const CKF_USER_PIN_TO_BE_CHANGED = 0x80000;

export interface TokenInfo {
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
  /** raw CK_TOKEN_INFO flags */
  flags: number;
  initialized: boolean;
  loginRequired: boolean;
  /** a PIN pad or biometric reader: log in with a null PIN */
  protectedAuthenticationPath: boolean;
  writeProtected: boolean;
  userPinInitialized: boolean;
  userPinCountLow: boolean;
  userPinFinalTry: boolean;
  userPinLocked: boolean;
  userPinToBeChanged: boolean;
}

/** How a slot is named to a user: its description, or its number where it has none. */
export function slotName(slot: SlotInfo): string {
  return slot.description || `slot ${slot.slotNumber}`;
}

export function readTokenInfo(lib: PKCS11, slotId: Buffer): TokenInfo {
  const t = call('C_GetTokenInfo', () => lib.C_GetTokenInfo(slotId));
  const f = t.flags;
  return {
    // Fields are blank-padded fixed-width strings; some modules pad with NULs instead.
    label: pkcs11String(t.label),
    serial: pkcs11String(t.serialNumber),
    manufacturer: pkcs11String(t.manufacturerID),
    model: pkcs11String(t.model),
    flags: f,
    initialized: (f & CKF_TOKEN_INITIALIZED) !== 0,
    loginRequired: (f & CKF_LOGIN_REQUIRED) !== 0,
    protectedAuthenticationPath: (f & CKF_PROTECTED_AUTHENTICATION_PATH) !== 0,
    writeProtected: (f & CKF_WRITE_PROTECTED) !== 0,
    userPinInitialized: (f & CKF_USER_PIN_INITIALIZED) !== 0,
    userPinCountLow: (f & CKF_USER_PIN_COUNT_LOW) !== 0,
    userPinFinalTry: (f & CKF_USER_PIN_FINAL_TRY) !== 0,
    userPinLocked: (f & CKF_USER_PIN_LOCKED) !== 0,
    userPinToBeChanged: (f & CKF_USER_PIN_TO_BE_CHANGED) !== 0,
  };
}


export class Token {
  private mechanismCache: Set<number> | undefined;

  constructor(
    readonly lib: PKCS11,
    readonly slot: SlotInfo,
    /** as read at scan time; refreshInfo() for current PIN counters */
    public info: TokenInfo,
  ) {}

  get label(): string {
    return this.info.label;
  }

  get serial(): string {
    return this.info.serial;
  }

  /** Re-reads CK_TOKEN_INFO, e.g. for the PIN counter flags after a failed login. */
  refreshInfo(): TokenInfo {
    this.info = readTokenInfo(this.lib, this.slot.slotId);
    return this.info;
  }

  /** Mechanisms the token offers (CKM_* numbers), read once. */
  mechanisms(): Set<number> {
    if (!this.mechanismCache) {
      this.mechanismCache = new Set(call('C_GetMechanismList', () => this.lib.C_GetMechanismList(this.slot.slotId)));
    }
    return this.mechanismCache;
  }

  /** A new session; read-only unless asked (key generation and fix-ids need read/write). */
  openSession(options: { readWrite?: boolean } = {}): Session {
    // CKF_SERIAL_SESSION is mandatory; CKF_RW_SESSION only when writing.
    const flags = CKF_SERIAL_SESSION | (options.readWrite ? CKF_RW_SESSION : 0);
    const handle = call('C_OpenSession', () => this.lib.C_OpenSession(this.slot.slotId, flags));
    return new Session(this, handle);
  }
}
