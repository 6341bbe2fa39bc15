// A module host asking the agent for a PIN. The host has no terminal and no dialog; the agent
// owns the PIN broker (cache, keyring, SSH_ASKPASS, pinentry, `tt-agent unlock`). Over the
// existing channel:
//   host → agent  EVENT { type: 'pin-request', requestId, token, why }
//   agent → host  CALL  { op: 'pin-answer', requestId, pin }     (pin null: nobody gave one)
//   host → agent  EVENT { type: 'pin-outcome', token, outcome }  (rejected / locked / absent / present)
// The outcome events let the broker forget a rejected PIN and start its absence clock.
// The agent serves a request only for a token this module reported, only while one of the
// host's signatures is pending, and a few times per signature (pin-request-agent.ts); a host
// that asks otherwise is killed. The host keeps no PIN: it zeroes each one after its login.
import type { PinRequestReason } from '../pin/prompt-text';
import type { TokenRef } from '../pin/token-ref';

/** `context-rejected`: the PIN of a context-specific login (CKA_ALWAYS_AUTHENTICATE) was wrong. */
export type PinOutcome = 'rejected' | 'context-rejected' | 'locked' | 'absent' | 'present';

export type PinEvent =
  | { type: 'pin-request'; requestId: number; token: TokenRef; why: PinRequestReason }
  | { type: 'pin-outcome'; token: TokenRef; outcome: PinOutcome };

export interface PinAnswerCall {
  op: 'pin-answer';
  requestId: number;
  pin: Buffer | null;
}

/** Where a HostToken gets a PIN when it has none, and whom it tells how the PIN fared. */
export interface PinSource {
  /** A PIN (the caller zeroes it) or null when nobody gave one. */
  ask(token: TokenRef, why: PinRequestReason): Promise<Buffer | null>;
  tell(token: TokenRef, outcome: PinOutcome): void;
}

/** The host side: requests travel as events, answers come back as pin-answer calls. */
export class ChannelPinSource implements PinSource {
  private nextId = 1;
  private readonly waiting = new Map<number, (pin: Buffer | null) => void>();

  constructor(private readonly send: (event: PinEvent) => void) {}

  ask(token: TokenRef, why: PinRequestReason): Promise<Buffer | null> {
    const requestId = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(requestId, resolve);
      this.send({ type: 'pin-request', requestId, token: plainRef(token), why });
    });
  }

  tell(token: TokenRef, outcome: PinOutcome): void {
    this.send({ type: 'pin-outcome', token: plainRef(token), outcome });
  }

  /** A pin-answer call arrived; takes ownership of `pin`. */
  answer(requestId: number, pin: Buffer | null): void {
    const resolve = this.waiting.get(requestId);
    this.waiting.delete(requestId);
    if (resolve) resolve(pin);
    else pin?.fill(0);
  }
}

function plainRef(t: TokenRef): TokenRef {
  const ref: TokenRef = { label: t.label, serial: t.serial };
  if (t.manufacturer) ref.manufacturer = t.manufacturer;
  if (t.model) ref.model = t.model;
  return ref;
}
