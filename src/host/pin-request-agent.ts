// The agent's side of a module host's PIN requests and outcomes (see pin-request.ts). The
// host runs vendor code, so each event is checked before the broker hears of it:
//  - a pin-request is served only while a signature of this host is pending, only for a
//    token this module reported in a load (the broker's claim), and at most
//    PIN_REQUESTS_PER_SIGN times per signature started;
//  - an outcome is taken only for a token this module serves (presence news about others is
//    ignored); a `rejected` then costs at most that token's own kept PIN. (The PIN it rejects
//    may be one the host never asked for: the one typed at `tt-agent add`, or a context login's.)
// Anything else is a host that lies: the request is refused, logged, and the host killed.
// While an accepted request waits for a person, the pending signatures' clocks stop
// (deadline.ts) and go on afterwards from where they were.
import type { PinBroker } from '../pin/broker';
import { describeToken } from '../pin/token-ref';
import type { PinAnswerCall, PinEvent } from './pin-request';

// Login on demand, a context-specific login, and the same again after one reconnect.
const PIN_REQUESTS_PER_SIGN = 4;

export interface PinRequestLink {
  /** The module path: the broker's name for this module's claims. */
  owner: string;
  broker: PinBroker;
  /** Signatures pending on this host now. */
  pendingSigns(): number;
  /** Stops or restarts the clocks of pending signatures. */
  pauseSigns(paused: boolean): void;
  /** Sends the answer to the host (the call zeroes the PIN once written). */
  answer(call: PinAnswerCall): Promise<unknown>;
  /** Ends the host: it broke the rules. */
  kill(why: string): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

/** One running host's PIN traffic. */
export class HostPinRequests {
  private budget = 0;
  private waiting = 0;

  constructor(private readonly link: PinRequestLink) {}

  /** A signature was sent to the host: it may need a login and a context-specific login. */
  signStarted(): void {
    this.budget += PIN_REQUESTS_PER_SIGN;
  }

  /** Checks and serves one event; never throws. */
  async handle(ev: PinEvent): Promise<void> {
    const { link } = this;
    const who = describeToken(ev.token);
    if (!link.broker.serves(link.owner, ev.token)) {
      // Presence news may come before the load that reports the token ends: ignored, harmless.
      if (ev.type === 'pin-outcome' && (ev.outcome === 'absent' || ev.outcome === 'present')) return;
      return link.kill(`asked about token ${who}, which it does not serve`);
    }
    if (ev.type === 'pin-outcome') return this.outcome(ev);
    if (link.pendingSigns() === 0) return link.kill(`asked for the PIN of token ${who} with no signature pending`);
    if (this.budget <= 0) return link.kill(`asked for the PIN of token ${who} more often than its signatures need`);
    this.budget--;
    if (this.waiting++ === 0) link.pauseSigns(true);
    let pin: Buffer | null = null;
    try {
      pin = await link.broker.getPin(ev.token, ev.why, link.owner);
    } catch (err) {
      link.log('error', `asking for the PIN failed: ${(err as Error).message}`);
    } finally {
      if (--this.waiting === 0) link.pauseSigns(false);
    }
    try {
      await link.answer({ op: 'pin-answer', requestId: ev.requestId, pin });
    } catch (err) {
      link.log('warn', `the module host did not take the PIN: ${(err as Error).message}`);
    } finally {
      pin?.fill(0);
    }
  }

  private async outcome(ev: Extract<PinEvent, { type: 'pin-outcome' }>): Promise<void> {
    const { broker } = this.link;
    try {
      switch (ev.outcome) {
        case 'rejected':
        case 'context-rejected':
          await broker.reject(ev.token, { contextSpecific: ev.outcome === 'context-rejected' });
          return;
        case 'locked':
          await broker.locked(ev.token);
          return;
        case 'absent':
          broker.tokenAbsent(ev.token);
          return;
        case 'present':
          broker.tokenPresent(ev.token);
          return;
      }
    } catch (err) {
      this.link.log('warn', `PIN outcome for token ${describeToken(ev.token)}: ${(err as Error).message}`);
    }
  }
}
