// Requests and answers between the agent and a module host (CALL / RESULT / EVENT frames).
// Signing has its own binary frames (channel.ts); these are the rarer operations. What a
// host sends is encoded by host-frames.ts and checked field by field on the agent's side.
import type { TokenIdentity, TokenLoadReport } from '../token-provider/provider';
import type { PinAnswerCall, PinEvent } from './pin-request';

export type HostCall =
  /** Open the module (once), log in to the selected tokens, list their keys. */
  | { op: 'load'; pin: Buffer | null; uri?: string }
  /** Per-token state for `tt-agent status`. */
  | { op: 'status' }
  /** C_Logout everywhere (ssh-add -x). */
  | { op: 'logout' }
  /** C_Finalize and exit. */
  | { op: 'close' }
  /** The PIN the host asked for in a pin-request event (pin-request.ts). */
  | PinAnswerCall;

/** One token's line of a load, with what the agent needs to decide whether to keep the PIN. */
export interface HostLoadLine extends TokenLoadReport {
  /** C_Login accepted the PIN given with the load on this token. */
  pinAccepted: boolean;
  /** The token was logged in before this load, so the PIN given was not checked by C_Login. */
  alreadyLoggedIn: boolean;
}

/** A key as a host reports it: where it sits, too. */
export interface HostIdentity extends TokenIdentity {
  /**
   * CK_SLOT_INFO.slotDescription of the key's slot ('' when none). For the modules that talk to
   * pcscd (OpenSC, ykcs11, and both behind p11-kit-proxy) it is the reader's name, which lets
   * the agent ask pcscd whether the card is still there (reader-watch.ts).
   */
  slot: string;
}

export interface LoadResult {
  identities: HostIdentity[];
  report: HostLoadLine[];
  /**
   * libpcsclite is loaded in the host: its module talks to pcscd. Told by the host, which
   * reads its own /proc/self/maps — the agent cannot read a host's maps (hosts are not
   * dumpable). A host that says so without need only costs itself a few questions to pcscd.
   */
  pcsc: boolean;
}

export interface TokenStatus {
  token: string;
  serial: string;
  slot: number;
  present: boolean;
  loggedIn: boolean;
  /** CK_TOKEN_INFO.flags as the token last reported them. */
  flags: number;
  /** CKF_USER_PIN_COUNT_LOW / CKF_USER_PIN_FINAL_TRY / CKF_USER_PIN_LOCKED, spelled out. */
  pinState: string[];
  keys: number;
  /** Each key: SHA256 fingerprint, CKA_ID in hex, label, and its pairing problems. */
  keyList: { fingerprint: string; id: string; label: string; problems: string[] }[];
  sessions: number;
  lastError?: { ckr?: string; message: string; at: string };
}

export interface HostStatus {
  modulePath: string;
  pid: number;
  /** true when calls into the module are serialized (module initialised without CKF_OS_LOCKING_OK). */
  serialized: boolean;
  tokens: TokenStatus[];
}

/** What the provider reports when asked while no host runs. */
export interface ProviderStatus {
  modulePath: string;
  running: boolean;
  restarts: number;
  lastCrash?: string;
  host?: HostStatus;
}

export type LogEvent = { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };
export type HostEvent = LogEvent | PinEvent;
