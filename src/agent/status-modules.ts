// The per-module part of the full status: what the module host says about its process and
// tokens (an opaque answer, read defensively: the host may be an older build, crashed, or
// late), merged with what the agent knows (load reports, identities, load errors), so that
// `tt-agent status` shows one tree: module → token → keys.
import type { TokenErrorRecord } from './core';
import type { TokenLoadReport } from '../token-provider/provider';
import type { KeyStatus } from './status';

/** What the user needs to know about the retry counter; PKCS#11 gives flags, not a number. */
export type PinTries = 'ok' | 'count low' | 'final try' | 'locked' | 'unknown';

export interface TokenKeyStatus {
  type: string;
  fingerprint: string;
  label: string;
  /** CKA_ID in hex, when the host reports it. */
  id?: string;
  problems: string[];
  expiresAt: string | null;
  confirm: boolean;
}

export interface TokenView {
  token: string;
  serial: string;
  slot?: number;
  /** null: the host did not say (not running, or no answer). */
  present: boolean | null;
  loggedIn: boolean | null;
  pinTries: PinTries;
  /** The CKF_USER_PIN_* flags that are set, verbatim. */
  pinFlags: string[];
  /** Keys added at the last load. */
  added: number;
  keys: TokenKeyStatus[];
  lastError?: { ckr?: string; message: string; at: string };
}

export interface ModuleStatus {
  modulePath: string;
  loadedAt: string;
  host: { running: boolean; pid?: number; restarts: number; lastCrash?: string; serialized?: boolean; error?: string };
  tokens: TokenView[];
}

// CK_TOKEN_INFO.flags (PKCS#11 v2.40 section 3.2).
const CKF_USER_PIN_COUNT_LOW = 0x00010000;
const CKF_USER_PIN_FINAL_TRY = 0x00020000;
const CKF_USER_PIN_LOCKED = 0x00040000;

interface HostKeyInfo {
  fingerprint?: unknown;
  label?: unknown;
  id?: unknown;
  problems?: unknown;
}

interface HostTokenInfo {
  token?: unknown;
  serial?: unknown;
  slot?: unknown;
  present?: unknown;
  loggedIn?: unknown;
  flags?: unknown;
  pinState?: unknown;
  keyList?: unknown;
  lastError?: { ckr?: unknown; message?: unknown; at?: unknown };
}

export interface ModuleInputs {
  modulePath: string;
  loadedAt: number;
  reports: TokenLoadReport[];
  /** The provider's status() answer (or {error}). */
  host: unknown;
  keys: KeyStatus[];
  loadErrors: TokenErrorRecord[];
}

export function moduleStatus(m: ModuleInputs): ModuleStatus {
  const h = (m.host ?? {}) as Record<string, unknown>;
  const inner = (h.host ?? {}) as Record<string, unknown>;
  const hostTokens = Array.isArray(inner.tokens) ? (inner.tokens as HostTokenInfo[]) : [];
  const host: ModuleStatus['host'] = {
    running: h.running === true,
    restarts: typeof h.restarts === 'number' ? h.restarts : 0,
  };
  if (typeof inner.pid === 'number') host.pid = inner.pid;
  if (typeof h.lastCrash === 'string') host.lastCrash = h.lastCrash;
  if (typeof inner.serialized === 'boolean') host.serialized = inner.serialized;
  if (typeof h.error === 'string') host.error = h.error;

  const views: TokenView[] = [];
  const find = (label: string, serial: string) => views.find((v) => v.token === label && (v.serial === serial || !serial || !v.serial));
  for (const t of hostTokens) {
    if (typeof t.token !== 'string') continue;
    views.push(fromHost(t));
  }
  for (const r of m.reports) {
    const v = find(r.token, r.serial) ?? pushed(views, emptyView(r.token, r.serial));
    v.added = r.added;
  }
  for (const e of m.loadErrors) {
    const v = find(e.token, e.serial) ?? pushed(views, emptyView(e.token, e.serial));
    const at = new Date(e.at).toISOString();
    if (!v.lastError || v.lastError.at < at) v.lastError = { ...(e.ckr ? { ckr: e.ckr } : {}), message: e.message, at };
  }
  for (const k of m.keys) {
    const v = find(k.token ?? '', '') ?? pushed(views, emptyView(k.token ?? '?', ''));
    const hostKey = hostKeyInfo(hostTokens, v.token, k.fingerprint);
    v.keys.push({
      type: k.type,
      fingerprint: k.fingerprint,
      label: typeof hostKey?.label === 'string' ? hostKey.label : k.comment,
      ...(typeof hostKey?.id === 'string' ? { id: hostKey.id } : {}),
      problems: Array.isArray(hostKey?.problems) ? hostKey.problems.map(String) : [],
      expiresAt: k.expiresAt,
      confirm: k.confirm,
    });
  }
  return { modulePath: m.modulePath, loadedAt: new Date(m.loadedAt).toISOString(), host, tokens: views };
}

function fromHost(t: HostTokenInfo): TokenView {
  const flags = typeof t.flags === 'number' ? t.flags : undefined;
  const pinFlags = Array.isArray(t.pinState) ? t.pinState.map(String) : flags !== undefined ? pinFlagNames(flags) : [];
  const v: TokenView = {
    token: t.token as string,
    serial: typeof t.serial === 'string' ? t.serial : '',
    present: typeof t.present === 'boolean' ? t.present : null,
    loggedIn: typeof t.loggedIn === 'boolean' ? t.loggedIn : null,
    pinTries: pinTriesFrom(pinFlags, flags !== undefined || Array.isArray(t.pinState)),
    pinFlags,
    added: 0,
    keys: [],
  };
  if (typeof t.slot === 'number') v.slot = t.slot;
  const e = t.lastError;
  if (e && typeof e.message === 'string') {
    v.lastError = { ...(typeof e.ckr === 'string' ? { ckr: e.ckr } : {}), message: e.message, at: typeof e.at === 'string' ? e.at : '' };
  }
  return v;
}

function pinFlagNames(flags: number): string[] {
  const names: string[] = [];
  if (flags & CKF_USER_PIN_COUNT_LOW) names.push('CKF_USER_PIN_COUNT_LOW');
  if (flags & CKF_USER_PIN_FINAL_TRY) names.push('CKF_USER_PIN_FINAL_TRY');
  if (flags & CKF_USER_PIN_LOCKED) names.push('CKF_USER_PIN_LOCKED');
  return names;
}

export function pinTriesFrom(pinFlags: string[], known: boolean): PinTries {
  if (pinFlags.includes('CKF_USER_PIN_LOCKED')) return 'locked';
  if (pinFlags.includes('CKF_USER_PIN_FINAL_TRY')) return 'final try';
  if (pinFlags.includes('CKF_USER_PIN_COUNT_LOW')) return 'count low';
  return known ? 'ok' : 'unknown';
}

function hostKeyInfo(tokens: HostTokenInfo[], label: string, fingerprint: string): HostKeyInfo | undefined {
  for (const t of tokens) {
    if (t.token !== label || !Array.isArray(t.keyList)) continue;
    const k = (t.keyList as HostKeyInfo[]).find((x) => x && x.fingerprint === fingerprint);
    if (k) return k;
  }
  return undefined;
}

function emptyView(token: string, serial: string): TokenView {
  return { token, serial, present: null, loggedIn: null, pinTries: 'unknown', pinFlags: [], added: 0, keys: [] };
}

function pushed<T>(list: T[], item: T): T {
  list.push(item);
  return item;
}
