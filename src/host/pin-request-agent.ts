// The agent side of a module host's PIN requests (see pin-request.ts): asks the PIN broker,
// sends the answer back, and passes on what became of the PIN. While a person is being asked,
// the host's pending requests must not run into their time limit (a signature waiting for
// a PIN is not a hung module), so their timers are restarted every second until answered.
import type { PinBroker } from '../pin/broker';
import type { PinAnswerCall, PinEvent } from './pin-request';

export interface PinRequestLink {
  /** Sends the answer to the host (the call zeroes the PIN once written). */
  answer(call: PinAnswerCall): Promise<unknown>;
  /** Timers of requests pending on this host, to keep alive while the person types. */
  pendingTimers(): Iterable<NodeJS.Timeout>;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

export function isPinEvent(ev: { type: string }): ev is PinEvent {
  return ev.type === 'pin-request' || ev.type === 'pin-outcome';
}

export async function handlePinEvent(broker: Promise<PinBroker>, ev: PinEvent, link: PinRequestLink): Promise<void> {
  const pins = await broker;
  if (ev.type === 'pin-outcome') {
    switch (ev.outcome) {
      case 'rejected':
        await pins.reject(ev.token);
        return;
      case 'locked':
        await pins.locked(ev.token);
        return;
      case 'absent':
        pins.tokenAbsent(ev.token);
        return;
      case 'present':
        pins.tokenPresent(ev.token);
        return;
    }
  }
  const keepAlive = setInterval(() => {
    for (const t of link.pendingTimers()) t.refresh();
  }, 1000);
  keepAlive.unref();
  let pin: Buffer | null = null;
  try {
    pin = await pins.getPin(ev.token, ev.why);
  } catch (err) {
    link.log('error', `asking for the PIN failed: ${(err as Error).message}`);
  } finally {
    clearInterval(keepAlive);
    for (const t of link.pendingTimers()) t.refresh();
  }
  try {
    await link.answer({ op: 'pin-answer', requestId: ev.requestId, pin });
  } catch (err) {
    link.log('warn', `the module host did not take the PIN: ${(err as Error).message}`);
  } finally {
    pin?.fill(0);
  }
}
