// SSH_AGENTC_LOCK / SSH_AGENTC_UNLOCK. The passphrase is kept only as a salted scrypt hash and
// compared in constant time. Wrong unlocks cost the caller an increasing delay (as OpenSSH's
// agent does) but the delay is a timer on that request only, so other clients keep working.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const SCRYPT_KEYLEN = 32;
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 10_000;

function hash(passphrase: Buffer, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(passphrase, salt, SCRYPT_KEYLEN, { N: 16384, r: 8, p: 1 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export class AgentLock {
  private salt: Buffer | null = null;
  private digest: Buffer | null = null;
  private failures = 0;
  private busy = false;
  private locks = 0;

  get locked(): boolean {
    return this.digest !== null;
  }

  /** Counts locks: a confirmation remembered before the last lock is no longer valid. */
  get generation(): number {
    return this.locks;
  }

  async lock(passphrase: Buffer): Promise<boolean> {
    if (this.locked || this.busy) return false;
    this.busy = true;
    try {
      const salt = randomBytes(16);
      const digest = await hash(passphrase, salt);
      this.salt = salt;
      this.digest = digest;
      this.failures = 0;
      this.locks++;
      return true;
    } finally {
      this.busy = false;
    }
  }

  /** Resolves true when unlocked; a wrong passphrase resolves false after the penalty delay. */
  async unlock(passphrase: Buffer): Promise<boolean> {
    if (!this.digest || !this.salt) return false;
    const digest = await hash(passphrase, this.salt);
    if (this.digest && timingSafeEqual(digest, this.digest)) {
      this.digest = null;
      this.salt = null;
      this.failures = 0;
      return true;
    }
    const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(this.failures, 16));
    this.failures++;
    await new Promise((r) => setTimeout(r, delay));
    return false;
  }
}
