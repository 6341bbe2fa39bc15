// Typed wrapper around the project's own N-API addon (native/tt_native.c), loaded on first
// use so that commands which never need it start even where it was not built.
import * as path from 'node:path';
import type { Hinted } from '../hint';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

interface TtNative {
  addEntropy(fd: number, data: Buffer, entropyBits: number): void;
  peerCred(fd: number): PeerCred;
  setDumpable(flag: boolean): void;
  getDumpable(): boolean;
  initializeWithoutLocking(binding: object, modulePath: string): number;
  pcscReaderState(name: string): Promise<PcscReaderState | null>;
}

/** The addon's .node file was not built (or not for this Node / platform). */
export class NativeUnavailableError extends Error implements Hinted {
  readonly hint = 'Build it with "npm install" or "npm run build:native" in the tt-agent package directory.';
  constructor(
    readonly addonPath: string,
    options?: { cause?: unknown },
  ) {
    super(`the native addon is not built (${addonPath} is missing or does not load)`, options);
    this.name = 'NativeUnavailableError';
  }
}

// Both src/native/ (tsx) and dist/native/ (compiled) sit two levels below the package root,
// where node-gyp puts build/Release/.
export const ADDON_PATH = path.resolve(__dirname, '..', '..', 'build', 'Release', 'tt_native.node');

let addon: TtNative | undefined;

function load(): TtNative {
  if (addon) return addon;
  try {
    addon = require(ADDON_PATH) as TtNative;
  } catch (err) {
    throw new NativeUnavailableError(ADDON_PATH, { cause: err });
  }
  return addon;
}

/**
 * What this tt-agent expects of the addon that the built one lacks: an addon built from older
 * sources (a checkout updated without `npm run build:native`). Empty when none is built.
 */
export function nativeMissing(): string[] {
  let native: TtNative;
  try {
    native = load();
  } catch {
    return [];
  }
  const has = native as unknown as Record<string, unknown>;
  return ADDON_FUNCTIONS.filter((f) => typeof has[f] !== 'function');
}

const ADDON_FUNCTIONS: readonly (keyof TtNative)[] = ['addEntropy', 'peerCred', 'setDumpable', 'getDumpable', 'initializeWithoutLocking', 'pcscReaderState'];

/** True when the addon loads; for callers that can do without it. */
export function nativeAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/**
 * ioctl(fd, RNDADDENTROPY): mixes `data` into the kernel's pool and credits `entropyBits`
 * (0 ≤ entropyBits ≤ 8·data.length). `fd` is an open /dev/random (or /dev/urandom).
 * Needs CAP_SYS_ADMIN; otherwise throws an Error with code 'EPERM'.
 */
export function addEntropy(fd: number, data: Buffer, entropyBits: number): void {
  if (!Number.isInteger(entropyBits)) throw new RangeError('entropyBits must be an integer');
  load().addEntropy(fd, data, entropyBits);
}

/**
 * getsockopt(SO_PEERCRED) on a connected unix socket: who connected (as of connect()).
 * For a net.Socket on Linux the descriptor is `(socket as any)._handle.fd` — an internal of
 * Node's pipe_wrap that has been stable for years; it is -1 for non-fd-backed handles.
 */
export function peerCred(fd: number): PeerCred {
  return load().peerCred(fd);
}

/** prctl(PR_SET_DUMPABLE): false = no core dumps and no ptrace attach by the same uid. */
export function setDumpable(flag: boolean): void {
  load().setDumpable(flag);
}

export function getDumpable(): boolean {
  return load().getDumpable();
}

/**
 * C_Initialize(NULL_PTR) through the function list of `binding`, a pkcs11js PKCS11 object that
 * has loaded `modulePath` (pkcs11js cannot pass NULL_PTR, and OpenSC treats any argument
 * structure as "use OS locking"). The binding's own list, because p11-kit-proxy gives each
 * C_GetFunctionList caller a list of its own. Returns the CK_RV; throws ENOSYS when the binding
 * is not laid out as expected (then nothing was called).
 */
export function initializeWithoutLocking(binding: object, modulePath: string): number {
  return load().initializeWithoutLocking(binding, modulePath);
}

/** The descriptor behind a net.Socket (unix or TCP), or throws if Node does not expose it. */
export function socketFd(socket: unknown): number {
  const fd = (socket as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new TypeError('socket has no file descriptor (closed, or not fd-backed)');
  return fd;
}

/** One PC/SC reader as pcscd sees it. */
export interface PcscReaderState {
  /** pcscd has a reader of that name; when false, the rest says nothing. */
  known: boolean;
  /** a card is in it */
  present: boolean;
  /** its insert/remove event counter (pcsc-lite), to see a card pulled and put back */
  events: number;
}

/**
 * Asks pcscd about one reader, on libuv's thread pool. null where pcscd cannot be asked: no
 * addon, no libpcsclite, no pcscd.
 */
export async function pcscReaderState(name: string): Promise<PcscReaderState | null> {
  let native: TtNative;
  try {
    native = load();
  } catch {
    return null;
  }
  // An addon older than this tt-agent (the agent's log says so at start): nobody to ask.
  if (typeof native.pcscReaderState !== 'function') return null;
  return native.pcscReaderState(name);
}
