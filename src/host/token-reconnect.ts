// The way back after a token was pulled or reset. Hot-plug (vcard notes,
// ../shared/vcard/README.md): old sessions stay invalid after re-insertion and the module
// reuses handle values, so every session and object handle is forgotten, the token is found
// again by serial and label, and each key again by its public key. The login waits for the
// next signature: only then may the host ask the agent for the PIN (the broker's cache
// answers at once).
import { samePublicKey } from '../pkcs11/key-material';
import { SessionPool } from '../pkcs11/session-pool';
import type { Token } from '../pkcs11/token';
import type { HostToken } from './host-token';
import { TokenAbsentError } from './token-errors';
import { logInTelling } from './token-login';

export class TokenReconnect {
  private recovering?: Promise<void>;
  private absentSince = 0;

  constructor(private readonly t: HostToken) {}

  /** One recovery at a time; everyone who failed meanwhile waits for the same one. */
  recover(): Promise<void> {
    if (!this.recovering) {
      this.recovering = this.reconnect().finally(() => {
        this.recovering = undefined;
      });
    }
    return this.recovering;
  }

  private async reconnect(): Promise<void> {
    const t = this.t;
    t.generation++;
    await this.forgetHandles();
    const scan = await t.gate.run(() => t.module.rescan());
    const again = scan.tokens.find((x) => x.serial === t.serial && x.label === t.label);
    if (!again) {
      this.markAbsent();
      throw new TokenAbsentError(t.label);
    }
    t.token = again;
    t.pool = new SessionPool(again, t.gate);
    this.markPresent();
    t.login = 'deferred';
    if (!again.info.loginRequired) await logInTelling(t, null);
    await this.findKeysAgain();
  }

  private async forgetHandles(): Promise<void> {
    const t = this.t;
    const old = t.pool;
    t.pool = new SessionPool(t.token, t.gate);
    await old.drop().catch(() => undefined);
    for (const k of t.keys) k.pair = undefined;
  }

  /** Each key's pair again, preferring the same CKA_ID and one whose private key is visible. */
  async findKeysAgain(): Promise<void> {
    const pairs = await this.t.findKeyPairs();
    for (const k of this.t.keys) {
      const candidates = pairs.filter((p) => p.publicKey && samePublicKey(p.publicKey, k.publicKey));
      const withPrivate = candidates.filter((p) => p.privateKey);
      k.pair = withPrivate.find((p) => p.id.equals(k.id)) ?? withPrivate[0] ?? candidates.find((p) => p.id.equals(k.id));
    }
  }

  private markAbsent(): void {
    const t = this.t;
    if (t.present) {
      t.log('warn', `token ${t.label} is not present; its keys stay listed and fail until it is back`);
      this.absentSince = Date.now();
      // The broker starts its absence clock: a token away too long has its PIN forgotten.
      t.pins?.tell(t.ref(), 'absent');
    }
    t.present = false;
    t.login = 'deferred';
  }

  private markPresent(): void {
    const t = this.t;
    if (!t.present) {
      t.log('info', `token ${t.label} is back after ${((Date.now() - this.absentSince) / 1000).toFixed(1)} s`);
      t.pins?.tell(t.ref(), 'present');
    }
    t.present = true;
  }

  /** A slot scan from the presence watch: notice a removal or a return. */
  async onScan(tokens: Token[]): Promise<void> {
    const t = this.t;
    if (t.closed || this.recovering) return;
    const here = tokens.some((x) => x.serial === t.serial && x.label === t.label);
    if (!here && t.present) {
      t.generation++;
      await this.forgetHandles();
      this.markAbsent();
    }
    if (here && !t.present) {
      // Back: find the keys now, so the next signature only has to log in.
      await this.recover().catch((err) => {
        t.noteError(err);
        t.log('warn', `token ${t.label} is back but could not be used again yet: ${(err as Error).message}`);
      });
    }
  }
}
