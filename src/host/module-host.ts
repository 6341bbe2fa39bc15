// Everything a module host does with its one PKCS#11 module: load tokens and their keys,
// sign, report state. Runs inside the host child process (main.ts), and can run in-process
// for measurements and tests of the token layer alone.
import * as fs from 'node:fs';
import { TokenError } from '../pkcs11/errors';
import type { KeyPair } from '../pkcs11/discover';
import { openModule, type Pkcs11Module } from '../pkcs11/module';
import { ModuleGate } from '../pkcs11/session-pool';
import { needsSerializedCalls } from '../pkcs11/serialize-rule';
import type { Token } from '../pkcs11/token';
import { selectKeyPairs, selectTokens } from '../pkcs11/select';
import { parsePkcs11Uri } from '../pkcs11/uri';
import { encodePublicKeyBlob } from '../protocol/key-blob';
import { HostToken, type HostKey } from './host-token';
import type { HostIdentity, HostLoadLine, HostStatus, LoadResult } from './messages';
import type { PinSource } from './pin-request';
import { PresenceWatch } from './presence-watch';
import type { Hinted } from '../hint';

export interface ModuleHostOptions {
  /**
   * Call the module one operation at a time, initialised without CKF_OS_LOCKING_OK.
   * Default: only for modules known to need it (OpenSC, p11-kit-proxy).
   */
  serialize?: boolean;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Where tokens get a PIN when a signature needs a login (the agent, over the channel). */
  pinSource?: PinSource;
}

export class UnknownKeyError extends Error implements Hinted {
  readonly hint = 'List the loaded keys with ssh-add -l; add the token again if its key is missing.';
  constructor(modulePath: string) {
    super(`no key with this public key is loaded from ${modulePath}`);
    this.name = 'UnknownKeyError';
  }
}

export class ModuleHost {
  private module?: Pkcs11Module;
  private gate?: ModuleGate;
  private watch?: PresenceWatch;
  private readonly tokens: HostToken[] = [];
  /** latin1 string of the SSH key blob → key; latin1 is the cheapest lossless Buffer→string. */
  private readonly keys = new Map<string, { key: HostKey; token: HostToken }>();
  private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;

  constructor(
    readonly modulePath: string,
    private readonly options: ModuleHostOptions = {},
  ) {
    this.log = options.log ?? (() => undefined);
  }

  private open(): { module: Pkcs11Module; gate: ModuleGate } {
    if (!this.module || !this.gate) {
      const real = safeRealpath(this.modulePath);
      const serialize = this.options.serialize ?? needsSerializedCalls(this.modulePath, real);
      this.module = openModule(this.modulePath, { osLocking: !serialize });
      this.gate = new ModuleGate(serialize);
      this.watch = new PresenceWatch(this.module, this.gate);
    }
    return { module: this.module, gate: this.gate };
  }

  /**
   * Logs in to the tokens `uriText` selects (all when absent), in slot order, and returns
   * their keys. The PIN is tried on one token after another and never again after a token
   * answered CKR_PIN_INCORRECT: the next token's retry counter is not the user's mistake.
   */
  async load(pin: Buffer | null, uriText?: string): Promise<LoadResult> {
    const uri = uriText ? parsePkcs11Uri(uriText) : undefined;
    const { module, gate } = this.open();
    // Read the slots afresh: a token may have been inserted since the last load.
    const selected = await gate.run(() => {
      module.rescan();
      return selectTokens(module, uri);
    });

    const identities: HostIdentity[] = [];
    const report: HostLoadLine[] = [];
    let rejectedBy: string | undefined;
    for (const t of selected) {
      const entry = this.entryFor(t, module, gate);
      const line: HostLoadLine = { token: entry.label, serial: entry.serial, added: 0, pinAccepted: false, alreadyLoggedIn: false };
      report.push(line);
      if (rejectedBy !== undefined) {
        line.error = { message: `not tried: the PIN was incorrect for token ${rejectedBy}` };
        continue;
      }
      try {
        const login = await entry.logIn(pin);
        // What the agent needs to keep the PIN (accepted here) or check it (not checked here).
        line.pinAccepted = pin !== null && login.outcome === 'logged-in' && !login.alreadyLoggedIn;
        line.alreadyLoggedIn = pin !== null && login.alreadyLoggedIn;
        const pairs = await entry.findKeyPairs();
        for (const pair of selectKeyPairs(pairs, uri)) {
          const id = this.addKey(entry, pair);
          if (id) {
            identities.push(id);
            line.added++;
          }
        }
        if (line.added === 0) line.error = { message: `no usable key on token ${entry.label}${uri ? ' matches the URI' : ''}` };
      } catch (err) {
        entry.noteError(err);
        const ckr = err instanceof TokenError ? err.ckr : undefined;
        line.error = { message: (err as Error).message };
        if (ckr) line.error.ckr = ckr;
        if (ckr === 'CKR_PIN_INCORRECT') rejectedBy = entry.label;
        this.log('warn', `loading token ${entry.label}: ${(err as Error).message}`);
      }
    }
    return { identities, report, pcsc: mapsPcscLite() };
  }

  async sign(blob: Buffer, data: Buffer, flags: number): Promise<Buffer> {
    const found = this.keys.get(blob.toString('latin1'));
    if (!found) throw new UnknownKeyError(this.modulePath);
    return found.token.sign(found.key, data, flags);
  }

  status(): HostStatus {
    return {
      modulePath: this.modulePath,
      pid: process.pid,
      serialized: this.gate?.serialized ?? false,
      tokens: this.tokens.map((t) => t.status()),
    };
  }

  /** ssh-add -x: C_Logout on every token. */
  async logout(): Promise<void> {
    await Promise.all(this.tokens.map((t) => t.logOut()));
  }

  async close(): Promise<void> {
    this.watch?.stop();
    await Promise.all(this.tokens.map((t) => t.close()));
    this.tokens.length = 0;
    this.keys.clear();
    this.module?.close();
    this.module = undefined;
  }

  private entryFor(t: Token, module: Pkcs11Module, gate: ModuleGate): HostToken {
    const known = this.tokens.find((e) => e.serial === t.serial && e.label === t.label);
    if (known) return known;
    const entry = new HostToken(t, module, gate, this.log, this.options.pinSource);
    this.tokens.push(entry);
    this.watch?.add(entry);
    return entry;
  }

  /** Registers a signing key of `entry` and returns its identity; undefined when it cannot sign. */
  private addKey(entry: HostToken, pair: KeyPair): HostIdentity | undefined {
    const hidden = pair.issues.some((i) => i.code === 'private-key-hidden');
    if (!pair.publicKey || !(pair.canSign || (hidden && entry.login === 'deferred'))) {
      if (pair.privateKey) this.log('warn', `token ${entry.label}: key ${pair.label || pair.id.toString('hex')} skipped: ${pair.problems.join('; ')}`);
      return undefined;
    }
    const blob = encodePublicKeyBlob(pair.publicKey);
    const mapKey = blob.toString('latin1');
    let key = this.keys.get(mapKey)?.key;
    if (key) {
      key.pair = pair;
    } else {
      key = { blob, publicKey: pair.publicKey, id: pair.id, label: pair.label, pair };
      this.keys.set(mapKey, { key, token: entry });
      entry.keys.push(key);
    }
    return { blob, publicKey: pair.publicKey, comment: pair.comment || this.modulePath, token: entry.label, slot: entry.token.slot.description };
  }
}

function safeRealpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Whether libpcsclite is mapped in this process: the module talks to pcscd (OpenSC and ykcs11
 * load it at C_Initialize, also behind p11-kit-proxy), so the agent may watch its readers.
 */
function mapsPcscLite(): boolean {
  try {
    return /\/libpcsclite\.so[^/\n]*$/m.test(fs.readFileSync('/proc/self/maps', 'latin1'));
  } catch {
    return false;
  }
}
