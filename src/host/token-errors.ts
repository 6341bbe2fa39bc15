// What a module host's token says when it cannot sign, and which PKCS#11 answers mean the
// token must be found again before anything else is tried.
import type { Hinted } from '../hint';

// Errors after which sessions and object handles can no longer be trusted (vcard notes: a
// removed card answers these, and OpenSC only notices re-insertion on C_GetSlotList).
// CKR_USER_NOT_LOGGED_IN: the card was reset by another program and forgot its login.
export const RECOVERABLE = new Set([
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_DEVICE_ERROR',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_GENERAL_ERROR',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
]);

// A context-specific C_Login answering these means the token is no longer logged in.
export const LOGIN_LOST = new Set(['CKR_OPERATION_NOT_INITIALIZED', 'CKR_USER_NOT_LOGGED_IN']);

/** The token is not in its reader (or not found again after a removal). */
export class TokenAbsentError extends Error implements Hinted {
  readonly hint = 'Insert the token; its keys sign again on the next request, without adding them again.';
  constructor(readonly token: string) {
    super(`token ${token} is not present`);
    this.name = 'TokenAbsentError';
  }
}

/** A signature needs a login and no PIN came from the agent. */
export class PinNeededError extends Error implements Hinted {
  readonly ckr = 'CKR_USER_NOT_LOGGED_IN';
  readonly hint: string;
  constructor(
    readonly token: string,
    why = 'needs its PIN before it can sign',
  ) {
    super(`token ${token} ${why}`);
    this.name = 'PinNeededError';
    this.hint = `Give the PIN with: tt-agent unlock '${token}' (or set SSH_ASKPASS for a dialog), then try again.`;
  }
}
