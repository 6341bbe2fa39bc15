// Signatures waiting for `tt-agent unlock` because no dialog could be shown: per token, a
// list of waiters, each ended by a PIN, a cancel (lock, forget) or its time limit.
import { isFinal, shellWord } from './pin-prompt';
import { FINAL_TRY_WARNING, type PinRequestReason } from './prompt-text';
import { describeToken, tokenKey, type TokenRef } from './token-ref';

interface Waiter {
  token: TokenRef;
  resolve: (pin: Buffer | null) => void;
}

export class UnlockWaits {
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(
    private readonly waitMs: number,
    private readonly log: (line: string) => void,
  ) {}

  /** No dialog could be shown (`skipped` says why): tell the log how to answer, then wait. */
  waitOrGiveUp(token: TokenRef, why: PinRequestReason, skipped: string[]): Promise<Buffer | null> {
    if (this.waitMs <= 0) {
      this.log(`no way to ask for the PIN of token ${describeToken(token)} (${skipped.join('; ')})`);
      return Promise.resolve(null);
    }
    this.log(
      `token ${describeToken(token)} needs its PIN${isFinal(why) ? ` (${FINAL_TRY_WARNING})` : ''}: ` +
        `run 'tt-agent unlock ${shellWord(token.label.trim() || token.serial.trim())}' within ${Math.round(this.waitMs / 1000)} s (${skipped.join('; ')})`,
    );
    return this.wait(token);
  }

  /** A PIN from `tt-agent unlock` within the time limit, else null. */
  wait(token: TokenRef): Promise<Buffer | null> {
    const key = tokenKey(token);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        token,
        resolve: (pin) => {
          clearTimeout(timer);
          const rest = (this.waiters.get(key) ?? []).filter((w) => w !== waiter);
          if (rest.length) this.waiters.set(key, rest);
          else this.waiters.delete(key);
          resolve(pin);
        },
      };
      const timer = setTimeout(() => {
        this.log(`no PIN for token ${describeToken(token)} within ${Math.round(this.waitMs / 1000)} s; the operation fails`);
        waiter.resolve(null);
      }, this.waitMs);
      this.waiters.set(key, [...(this.waiters.get(key) ?? []), waiter]);
    });
  }

  /** Hands each waiter of `token` its own copy of `pin`; how many there were. */
  answer(token: TokenRef, pin: Buffer): number {
    const list = [...(this.waiters.get(tokenKey(token)) ?? [])];
    for (const w of list) w.resolve(Buffer.from(pin));
    return list.length;
  }

  cancelAll(): void {
    for (const list of [...this.waiters.values()]) for (const w of [...list]) w.resolve(null);
  }

  isWaiting(token: TokenRef): boolean {
    return (this.waiters.get(tokenKey(token))?.length ?? 0) > 0;
  }

  tokens(): TokenRef[] {
    return [...this.waiters.values()].filter((l) => l.length > 0).map((l) => l[0].token);
  }
}
