// What a module host sends the agent, as explicit SSH-wire fields (RFC 4251 types, our
// reader/writer in protocol/wire.ts). The host runs vendor code, so the agent treats every
// frame from it as hostile: each field is read with a bound, every string must be UTF-8 and
// is escaped for the log at once, counts are checked against the bytes that remain, and
// anything left over is an error. A WireError here ends that host (provider.ts), never the
// agent. Nothing host-sent is ever handed to v8.deserialize.
//
//   ERROR   string name / string message / string ckr / string fn / string token / string hint
//   EVENT   byte 1 (log)          byte level (1 info, 2 warn, 3 error) / string message
//           byte 2 (pin-request)  uint32 request id / token-ref / byte tries-left (0 unknown,
//                                 1 ok, 2 low, 3 final) / uint32 tries (0 unknown) /
//                                 bool context-specific / string key label
//           byte 3 (pin-outcome)  token-ref / byte outcome (1 rejected, 2 locked, 3 absent, 4 present)
//   RESULT  load: uint32 n / n × (string key blob / string comment / string token)
//                 uint32 m / m × (string token / string serial / uint32 added / bool PIN accepted /
//                 bool already logged in / bool error / [string ckr / string message])
//           status: host-status.ts;  logout, close, pin-answer: empty
//   SIGNATURE string algorithm / string signature (the SSH signature blob itself)
//   token-ref: string label / string serial / string manufacturer / string model
// An empty string stands for an absent optional field.
import { decodePublicKeyBlob } from '../protocol/key-blob';
import { escapeLogText } from '../protocol/log-text';
import { SshReader, SshWriter, WireError } from '../protocol/wire';
import type { PinRequestReason } from '../pin/prompt-text';
import type { TokenRef } from '../pin/token-ref';
import type { HostErrorInfo } from './host-errors';
import type { HostEvent, HostIdentity, HostLoadLine, LoadResult } from './messages';
import type { PinOutcome } from './pin-request';

/** Longest text field a host may send (labels are 32 bytes in PKCS#11; messages are one line). */
export const MAX_TEXT = 4096;
const MAX_BLOB = 16 * 1024;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const LEVELS = ['info', 'warn', 'error'] as const;
const TRIES = [undefined, 'ok', 'low', 'final'] as const;
const OUTCOMES: PinOutcome[] = ['rejected', 'context-rejected', 'locked', 'absent', 'present'];
const EVENT_LOG = 1;
const EVENT_PIN_REQUEST = 2;
const EVENT_PIN_OUTCOME = 3;

/** A bounded, strict-UTF-8 text field, escaped for the log. */
export function readText(r: SshReader, what: string): string {
  const raw = r.string(what);
  if (raw.length > MAX_TEXT) throw new WireError(`${what} longer than ${MAX_TEXT} bytes`);
  try {
    return escapeLogText(strictUtf8.decode(raw));
  } catch {
    throw new WireError(`${what} is not valid UTF-8`);
  }
}

function optionalText(r: SshReader, what: string): string | undefined {
  const t = readText(r, what);
  return t === '' ? undefined : t;
}

/** A count of entries that each take at least `minBytes`: more than the frame holds is a lie. */
export function readCount(r: SshReader, minBytes: number, what: string): number {
  const n = r.uint32();
  if (n * minBytes > r.remaining) throw new WireError(`${what}: ${n} entries cannot fit in ${r.remaining} bytes`);
  return n;
}

function readEnum<T>(r: SshReader, table: readonly T[], what: string, first = 1): T {
  const v = r.uint8() - first;
  if (v < 0 || v >= table.length) throw new WireError(`unknown ${what} ${v + first}`);
  return table[v];
}

function writeRef(w: SshWriter, t: TokenRef): SshWriter {
  return w.string(t.label).string(t.serial).string(t.manufacturer ?? '').string(t.model ?? '');
}

function readRef(r: SshReader): TokenRef {
  const ref: TokenRef = { label: readText(r, 'token label'), serial: readText(r, 'token serial') };
  const manufacturer = optionalText(r, 'token manufacturer');
  const model = optionalText(r, 'token model');
  if (manufacturer) ref.manufacturer = manufacturer;
  if (model) ref.model = model;
  return ref;
}

export function encodeHostError(e: HostErrorInfo): Buffer {
  return new SshWriter()
    .string(e.name)
    .string(e.message)
    .string(e.ckr ?? '')
    .string(e.fn ?? '')
    .string(e.token ?? '')
    .string(e.hint ?? '')
    .toBuffer();
}

export function decodeHostError(p: Buffer): HostErrorInfo {
  const r = new SshReader(p);
  const info: HostErrorInfo = { name: readText(r, 'error name'), message: readText(r, 'error message') };
  const ckr = optionalText(r, 'CKR name');
  const fn = optionalText(r, 'function name');
  const token = optionalText(r, 'token');
  const hint = optionalText(r, 'hint');
  r.expectEnd('error');
  if (ckr !== undefined) {
    if (!/^CKR_[A-Z0-9_]+$|^0x[0-9a-f]+$/.test(ckr)) throw new WireError('error carries a malformed CKR name');
    info.ckr = ckr;
  }
  if (fn !== undefined) info.fn = fn;
  if (token !== undefined) info.token = token;
  if (hint !== undefined) info.hint = hint;
  return info;
}

export function encodeHostEvent(ev: HostEvent): Buffer {
  const w = new SshWriter();
  switch (ev.type) {
    case 'log':
      return w.uint8(EVENT_LOG).uint8(LEVELS.indexOf(ev.level) + 1).string(ev.message).toBuffer();
    case 'pin-request': {
      writeRef(w.uint8(EVENT_PIN_REQUEST).uint32(ev.requestId), ev.token);
      const tries = ev.why.tries !== undefined && Number.isInteger(ev.why.tries) && ev.why.tries > 0 ? ev.why.tries : 0;
      return w
        .uint8(TRIES.indexOf(ev.why.triesLeft))
        .uint32(Math.min(tries, 0xffffffff))
        .bool(ev.why.contextSpecific === true)
        .string(ev.why.keyLabel ?? '')
        .toBuffer();
    }
    case 'pin-outcome':
      return writeRef(w.uint8(EVENT_PIN_OUTCOME), ev.token).uint8(OUTCOMES.indexOf(ev.outcome) + 1).toBuffer();
  }
}

export function decodeHostEvent(p: Buffer): HostEvent {
  const r = new SshReader(p);
  const type = r.uint8();
  let ev: HostEvent;
  if (type === EVENT_LOG) {
    ev = { type: 'log', level: readEnum(r, LEVELS, 'log level'), message: readText(r, 'log message') };
  } else if (type === EVENT_PIN_REQUEST) {
    const requestId = r.uint32();
    const token = readRef(r);
    const why: PinRequestReason = {};
    const triesLeft = readEnum(r, TRIES, 'tries-left value', 0);
    const tries = r.uint32();
    if (triesLeft) why.triesLeft = triesLeft;
    if (tries > 0) why.tries = tries;
    if (r.bool()) why.contextSpecific = true;
    const keyLabel = optionalText(r, 'key label');
    if (keyLabel !== undefined) why.keyLabel = keyLabel;
    ev = { type: 'pin-request', requestId, token, why };
  } else if (type === EVENT_PIN_OUTCOME) {
    ev = { type: 'pin-outcome', token: readRef(r), outcome: readEnum(r, OUTCOMES, 'PIN outcome') };
  } else {
    throw new WireError(`unknown event type ${type}`);
  }
  r.expectEnd('event');
  return ev;
}

export function encodeLoadResult(res: LoadResult): Buffer {
  const w = new SshWriter().uint32(res.identities.length);
  for (const i of res.identities) w.string(i.blob).string(i.comment).string(i.token).string(i.slot);
  w.uint32(res.report.length);
  for (const l of res.report) {
    w.string(l.token).string(l.serial).uint32(l.added).bool(l.pinAccepted).bool(l.alreadyLoggedIn).bool(l.error !== undefined);
    if (l.error) w.string(l.error.ckr ?? '').string(l.error.message);
  }
  w.bool(res.pcsc);
  return w.toBuffer();
}

export function decodeLoadResult(p: Buffer): LoadResult {
  const r = new SshReader(p);
  const identities: HostIdentity[] = [];
  for (let n = readCount(r, 12, 'identities'); n > 0; n--) {
    const blob = r.string('key blob');
    if (blob.length > MAX_BLOB) throw new WireError('key blob too long');
    // The agent lists and signs by this blob: it must be a public key the agent can parse.
    const publicKey = decodePublicKeyBlob(blob);
    const comment = readText(r, 'key comment');
    const token = readText(r, 'token label');
    identities.push({ blob: Buffer.from(blob), publicKey, comment, token, slot: readText(r, 'slot description') });
  }
  const report: HostLoadLine[] = [];
  for (let n = readCount(r, 15, 'report lines'); n > 0; n--) {
    const line: HostLoadLine = {
      token: readText(r, 'token label'),
      serial: readText(r, 'token serial'),
      added: r.uint32(),
      pinAccepted: r.bool(),
      alreadyLoggedIn: r.bool(),
    };
    if (r.bool()) {
      const ckr = optionalText(r, 'CKR name');
      line.error = { message: readText(r, 'error message') };
      if (ckr !== undefined) line.error.ckr = ckr;
    }
    report.push(line);
  }
  const pcsc = r.bool();
  r.expectEnd('load result');
  return { identities, report, pcsc };
}

/** An SSH signature blob: string algorithm, string signature, nothing more. */
export function checkSignatureBlob(p: Buffer): Buffer {
  const r = new SshReader(p);
  const alg = r.stringUtf8('signature algorithm');
  if (alg.length === 0 || alg.length > 64 || !/^[\x21-\x7e]+$/.test(alg)) throw new WireError('malformed signature algorithm name');
  if (r.string('signature').length > MAX_BLOB) throw new WireError('signature too long');
  r.expectEnd('signature blob');
  return Buffer.from(p);
}

/** The answer to a call with no value (logout, close, pin-answer). */
export function decodeEmptyResult(p: Buffer): null {
  if (p.length !== 0) throw new WireError(`${p.length} unexpected bytes in an empty result`);
  return null;
}
