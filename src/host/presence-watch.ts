// One presence watch per module: a slot scan every second (four a second while a token is
// out) serves every token of the module, so a removal or re-insertion is noticed without
// waiting for a signature to fail, and a card that came back is found again before the next
// signature asks. Hot-plug notes (../shared/vcard/README.md): OpenSC notices a re-inserted
// card only on C_GetSlotList / C_GetSlotInfo, hence the rescan.
import type { Pkcs11Module } from '../pkcs11/module';
import type { ModuleGate } from '../pkcs11/session-pool';
import type { Token } from '../pkcs11/token';

const PRESENT_POLL_MS = 1000;
const ABSENT_POLL_MS = 250;

/** What the watch needs of a token. */
export interface Watched {
  readonly isAbsent: boolean;
  onScan(tokens: Token[]): Promise<void>;
}

export class PresenceWatch {
  private readonly tokens = new Set<Watched>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly module: Pkcs11Module,
    private readonly gate: ModuleGate,
  ) {}

  add(token: Watched): void {
    this.tokens.add(token);
    if (!this.timer) this.schedule();
  }

  remove(token: Watched): void {
    this.tokens.delete(token);
    if (this.tokens.size === 0) this.stop();
  }

  stop(): void {
    this.tokens.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const anyAbsent = [...this.tokens].some((t) => t.isAbsent);
    this.timer = setTimeout(() => void this.tick(), anyAbsent ? ABSENT_POLL_MS : PRESENT_POLL_MS);
    // The host lives as long as its channel to the agent; the watch must not keep it alive.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.tokens.size === 0) return;
    try {
      const scan = await this.gate.run(() => this.module.rescan());
      for (const t of this.tokens) await t.onScan(scan.tokens);
    } catch {
      // A module closing, or a reader vanishing mid-scan: the next tick looks again.
    }
    if (this.tokens.size > 0 && !this.timer) this.schedule();
  }
}
