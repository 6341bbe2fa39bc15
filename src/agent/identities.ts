// The agent's identity table: every key it can sign with, soft (from `ssh-add FILE`) or on a
// token (through a TokenProvider), keyed by the exact public key blob as clients send it back
// in SSH_AGENTC_SIGN_REQUEST. Insertion order is the listing order, as in OpenSSH.
import type { SshCertificate } from '../protocol/certificate';
import type { DestinationConstraint } from '../protocol/constraints';
import type { PublicKey } from '../protocol/public-key';
import type { TokenProvider } from '../token-provider/provider';
import type { SoftKey } from './soft-key';

export type KeySource =
  | { kind: 'soft'; key: SoftKey }
  | { kind: 'token'; provider: TokenProvider; token: string };

export interface IdentityConstraints {
  /** Absolute time (ms since epoch) after which the key is removed. */
  expiresAt?: number;
  confirm: boolean;
  destinations: DestinationConstraint[];
}

export interface Identity {
  /** What the agent lists and clients name: the plain key blob, or the certificate blob. */
  blob: Buffer;
  /** The key that signs (for a certificate, the certified key). */
  publicKey: PublicKey;
  /** Set for a certificate identity; its `keyBlob` is the plain key the token signs with. */
  certificate?: SshCertificate;
  comment: string;
  source: KeySource;
  constraints: IdentityConstraints;
}

const keyOf = (blob: Buffer): string => blob.toString('base64');

export class IdentityTable {
  private readonly byBlob = new Map<string, Identity>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly onExpire: (id: Identity) => void = () => {}) {}

  get size(): number {
    return this.byBlob.size;
  }

  list(): Identity[] {
    return [...this.byBlob.values()];
  }

  get(blob: Buffer): Identity | undefined {
    return this.byBlob.get(keyOf(blob));
  }

  /** Adds or replaces (same blob: the newer key and constraints win, as in OpenSSH). */
  add(id: Identity): void {
    const k = keyOf(id.blob);
    this.clearTimer(k);
    this.byBlob.delete(k);
    this.byBlob.set(k, id);
    if (id.constraints.expiresAt !== undefined) {
      const ms = Math.max(0, id.constraints.expiresAt - Date.now());
      // setTimeout caps near 24.8 days; longer lifetimes re-arm on the way.
      const timer = setTimeout(() => this.expire(k), Math.min(ms, 0x7fffffff));
      timer.unref();
      this.timers.set(k, timer);
    }
  }

  remove(blob: Buffer): Identity | undefined {
    const k = keyOf(blob);
    const id = this.byBlob.get(k);
    this.clearTimer(k);
    this.byBlob.delete(k);
    return id;
  }

  /** Removes every identity the predicate selects; returns how many went. */
  removeWhere(pred: (id: Identity) => boolean): number {
    let n = 0;
    for (const id of this.list()) {
      if (pred(id)) {
        this.remove(id.blob);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    for (const k of [...this.timers.keys()]) this.clearTimer(k);
    this.byBlob.clear();
  }

  private expire(k: string): void {
    const id = this.byBlob.get(k);
    this.timers.delete(k);
    if (!id) return;
    if (id.constraints.expiresAt !== undefined && id.constraints.expiresAt > Date.now()) {
      this.add(id); // woke early because of the setTimeout cap
      return;
    }
    this.byBlob.delete(k);
    this.onExpire(id);
  }

  private clearTimer(k: string): void {
    const t = this.timers.get(k);
    if (t) clearTimeout(t);
    this.timers.delete(k);
  }
}
