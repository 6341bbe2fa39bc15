// Remembered PINs in the OS keyring (Secret Service on Linux, Keychain on macOS, Credential
// Manager on Windows) through the optional @napi-rs/keyring module. One entry per token:
// service "tt-agent", account "token:<serial>:<label>".
//
// Limitation, documented on purpose: the keyring library is reached from JavaScript, and
// although PINs travel here as bytes (setSecret/getSecret, never strings), the library and
// D-Bus make their own copies that this code cannot zero. Only `list()` sees secrets as JS
// strings (the library returns them alongside the account names); it drops them at once,
// but a JS string cannot be wiped and lives until the collector reclaims it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tokenKey, type TokenRef } from './token-ref';

export const KEYRING_SERVICE = 'tt-agent';
const PROBE_SERVICE = 'tt-agent-probe';
const ACCOUNT_PREFIX = 'token:';

export interface KeyringStore {
  /** The remembered PIN as a fresh Buffer (the caller zeroes it), or null. */
  get(token: TokenRef): Promise<Buffer | null>;
  /** Stores a copy of `pin`; the caller keeps ownership of its Buffer. */
  set(token: TokenRef, pin: Buffer): Promise<void>;
  /** True when an entry was there. */
  delete(token: TokenRef): Promise<boolean>;
  /** The tokens with a remembered PIN. */
  list(): Promise<TokenRef[]>;
}

export class KeyringError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyringError';
  }
}

export function keyringAccount(token: TokenRef): string {
  return `${ACCOUNT_PREFIX}${tokenKey(token)}`;
}

/** Inverse of keyringAccount; the serial is taken up to the first ':' (PKCS#11 serials are hex or digits). */
export function parseKeyringAccount(account: string): TokenRef | null {
  if (!account.startsWith(ACCOUNT_PREFIX)) return null;
  const rest = account.slice(ACCOUNT_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon < 0) return null;
  return { serial: rest.slice(0, colon), label: rest.slice(colon + 1) };
}

export interface KeyringOptions {
  /** Told once, in one line, why there is no keyring. */
  log?: (line: string) => void;
  /** Told why there is no keyring instead of `log` (whose line says the PIN will be asked for). */
  onUnavailable?: (why: string) => void;
  /** Each keyring call gives up after this long (a locked keyring may show an unlock dialog). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

interface KeyringModule {
  AsyncEntry: new (service: string, account: string) => {
    setSecret(secret: Uint8Array): Promise<void>;
    getSecret(): Promise<Uint8Array | undefined | null>;
    deleteCredential(): Promise<boolean>;
  };
  findCredentialsAsync(service: string): Promise<{ account: string; password: string }[]>;
}

/**
 * The keyring, or null (after one log line saying why and that the PIN will be asked for
 * instead) when the module is not installed or no keyring service answers.
 */
export async function openKeyring(opts: KeyringOptions = {}): Promise<KeyringStore | null> {
  const log = opts.log ?? (() => {});
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const unavailable = (why: string): null => {
    if (opts.onUnavailable) opts.onUnavailable(why);
    else log(`no OS keyring available (${why}); the PIN will be asked for instead`);
    return null;
  };

  let mod: KeyringModule;
  try {
    // Optional dependency: a missing module is a supported setup, not an error.
    mod = require('@napi-rs/keyring') as KeyringModule;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return unavailable(code === 'MODULE_NOT_FOUND' ? 'the optional module @napi-rs/keyring is not installed' : `@napi-rs/keyring does not load: ${firstLine(err)}`);
  }
  if (process.platform === 'linux' && !sessionBusReachable(env)) {
    return unavailable('no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist');
  }
  try {
    // Listing an empty service is the cheapest call that fails when no Secret Service answers
    // (reading a missing entry does not: it answers "no entry" either way).
    await withTimeout(mod.findCredentialsAsync(PROBE_SERVICE), timeoutMs, 'probe');
  } catch (err) {
    return unavailable(firstLine(err));
  }
  return new SecretStore(mod, timeoutMs, log);
}

class SecretStore implements KeyringStore {
  constructor(
    private readonly mod: KeyringModule,
    private readonly timeoutMs: number,
    private readonly log: (line: string) => void,
  ) {}

  async get(token: TokenRef): Promise<Buffer | null> {
    let secret: Uint8Array | undefined | null;
    try {
      secret = await withTimeout(this.entry(token).getSecret(), this.timeoutMs, 'read');
    } catch (err) {
      this.log(`keyring: cannot read the remembered PIN of ${keyringAccount(token)} (${firstLine(err)})`);
      return null;
    }
    if (!secret || secret.length === 0) return null;
    const pin = Buffer.from(secret);
    secret.fill(0);
    return pin;
  }

  async set(token: TokenRef, pin: Buffer): Promise<void> {
    // A copy the library may keep is out of reach; this one is ours to zero.
    const copy = new Uint8Array(pin);
    try {
      await withTimeout(this.entry(token).setSecret(copy), this.timeoutMs, 'write');
    } catch (err) {
      throw new KeyringError(`cannot store the PIN in the OS keyring: ${firstLine(err)}`, { cause: err });
    } finally {
      copy.fill(0);
    }
  }

  async delete(token: TokenRef): Promise<boolean> {
    try {
      return await withTimeout(this.entry(token).deleteCredential(), this.timeoutMs, 'delete');
    } catch (err) {
      if (/no.?entry|not found|no matching/i.test(String((err as Error).message))) return false;
      throw new KeyringError(`cannot delete the remembered PIN from the OS keyring: ${firstLine(err)}`, { cause: err });
    }
  }

  async list(): Promise<TokenRef[]> {
    let found: { account: string; password: string }[];
    try {
      found = await withTimeout(this.mod.findCredentialsAsync(KEYRING_SERVICE), this.timeoutMs, 'list');
    } catch (err) {
      throw new KeyringError(`cannot list the OS keyring: ${firstLine(err)}`, { cause: err });
    }
    const tokens: TokenRef[] = [];
    for (const c of found) {
      const t = parseKeyringAccount(c.account);
      if (t) tokens.push(t);
    }
    found.length = 0;
    return tokens;
  }

  private entry(token: TokenRef) {
    return new this.mod.AsyncEntry(KEYRING_SERVICE, keyringAccount(token));
  }
}

function sessionBusReachable(env: NodeJS.ProcessEnv): boolean {
  if (env.DBUS_SESSION_BUS_ADDRESS) return true;
  const runtime = env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.() ?? 0}`;
  return fs.existsSync(path.join(runtime, 'bus'));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new KeyringError(`the keyring did not answer a ${what} within ${ms} ms (locked, or waiting on an unlock dialog?)`)), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** The library's errors carry a Rust backtrace after the first line. */
function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].trim();
}
