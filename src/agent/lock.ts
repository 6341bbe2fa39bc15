// SSH_AGENTC_LOCK / SSH_AGENTC_UNLOCK. The passphrase is never kept: scrypt turns it into a
// master secret, from which two keys are derived apart (HKDF, distinct labels): a verifier,
// which is all the lock stores, and a sealing key, handed to the caller to seal the kept
// PINs while locked. Knowing the verifier does not yield the sealing key.
//
// Wrong unlocks cost an agent-wide delay, as in OpenSSH's process_lock_agent (0.1 s more per
// failure, at most 10 s): every unlock attempt waits its turn behind the previous one and its
// penalty, so 300 connections guess no faster than one. An empty passphrase is refused, as
// OpenSSH refuses it.
import { hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const SCRYPT_KEYLEN = 32;
const STEP_DELAY_MS = 100;
const MAX_FAILURES = 100; // 100 × 0.1 s = 10 s

function derive(passphrase: Buffer, salt: Buffer): Promise<{ verifier: Buffer; sealKey: Buffer }> {
  return new Promise((resolve, reject) =>
    scrypt(passphrase, salt, SCRYPT_KEYLEN, { N: 16384, r: 8, p: 1 }, (err, master) => {
      if (err) return reject(err);
      const verifier = Buffer.from(hkdfSync('sha256', master, salt, 'tt-agent lock verifier', 32));
      const sealKey = Buffer.from(hkdfSync('sha256', master, salt, 'tt-agent PIN sealing key', 32));
      master.fill(0);
      resolve({ verifier, sealKey });
    }),
  );
}

export type LockOutcome = { ok: true; sealKey: Buffer } | { ok: false; reason: string };

export class AgentLock {
  private salt: Buffer | null = null;
  private verifier: Buffer | null = null;
  private failures = 0;
  /** Every lock and unlock runs after the previous one and its penalty delay. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Locks so far: a confirmation remembered before the last lock is no longer valid. */
  private locks = 0;

  get locked(): boolean {
    return this.verifier !== null;
  }

  /** Number of wrong unlocks since the last right one (the next penalty is 0.1 s × this). */
  get failedUnlocks(): number {
    return this.failures;
  }

  /** Counts locks: a confirmation remembered before the last lock is no longer valid. */
  get generation(): number {
    return this.locks;
  }

  /** Locks; the sealing key is the caller's to use and zero. */
  lock(passphrase: Buffer): Promise<LockOutcome> {
    return this.inTurn(async () => {
      if (passphrase.length === 0) return { ok: false, reason: 'an empty lock passphrase is not accepted' };
      if (this.locked) return { ok: false, reason: 'agent is already locked' };

      const salt = randomBytes(16);
      const { verifier, sealKey } = await derive(passphrase, salt);
      this.salt = salt;
      this.verifier = verifier;
      this.failures = 0;
      this.locks++;
      return { ok: true, sealKey };
    });
  }

  /** Unlocks and hands back the sealing key; a wrong passphrase fails after the agent-wide delay. */
  unlock(passphrase: Buffer): Promise<LockOutcome> {
    return this.inTurn(async () => {
      if (!this.verifier || !this.salt) return { ok: false, reason: 'unlock of an agent that is not locked' };
      if (passphrase.length === 0) return { ok: false, reason: 'an empty passphrase is not accepted' };
      const { verifier, sealKey } = await derive(passphrase, this.salt);
      if (this.verifier && timingSafeEqual(verifier, this.verifier)) {
        this.verifier = null;
        this.salt = null;
        this.failures = 0;
        return { ok: true, sealKey };
      }
      sealKey.fill(0);
      if (this.failures < MAX_FAILURES) this.failures++;
      const delay = STEP_DELAY_MS * this.failures;
      // Held inside this turn: the next attempt, from any connection, starts after it.
      await new Promise((r) => setTimeout(r, delay));
      return { ok: false, reason: `unlock with a wrong passphrase (${this.failures} in a row; each next try waits ${delay / 1000} s)` };
    });
  }

  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => undefined);
    return run;
  }
}
