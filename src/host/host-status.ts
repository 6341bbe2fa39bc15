// The status answer of a module host (`tt-agent status`), as explicit SSH-wire fields; read
// on the agent's side with the same bounds as every other host frame (host-frames.ts).
//
//   string module path / uint32 pid / bool serialized / uint32 n / n × token:
//     string label / string serial / uint64 slot / bool present / bool logged in /
//     uint32 CK_TOKEN_INFO.flags / uint32 n × string PIN flag / uint32 keys /
//     uint32 n × (string fingerprint / string id / string label / uint32 n × string problem) /
//     uint32 sessions / bool error / [string ckr / string message / string at]
import { SshReader, SshWriter, WireError } from '../protocol/wire';
import { readCount, readText } from './host-frames';
import type { HostStatus, TokenStatus } from './messages';

export function encodeHostStatus(s: HostStatus): Buffer {
  const w = new SshWriter().string(s.modulePath).uint32(s.pid).bool(s.serialized).uint32(s.tokens.length);
  for (const t of s.tokens) {
    w.string(t.token).string(t.serial).uint64(BigInt(t.slot)).bool(t.present).bool(t.loggedIn).uint32(t.flags >>> 0);
    w.uint32(t.pinState.length);
    for (const p of t.pinState) w.string(p);
    w.uint32(t.keys).uint32(t.keyList.length);
    for (const k of t.keyList) {
      w.string(k.fingerprint).string(k.id).string(k.label).uint32(k.problems.length);
      for (const p of k.problems) w.string(p);
    }
    w.uint32(t.sessions).bool(t.lastError !== undefined);
    if (t.lastError) w.string(t.lastError.ckr ?? '').string(t.lastError.message).string(t.lastError.at);
  }
  return w.toBuffer();
}

function texts(r: SshReader, what: string): string[] {
  const out: string[] = [];
  for (let n = readCount(r, 4, what); n > 0; n--) out.push(readText(r, what));
  return out;
}

function readToken(r: SshReader): TokenStatus {
  const token = readText(r, 'token label');
  const serial = readText(r, 'token serial');
  const slot = r.uint64();
  if (slot > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('slot id out of range');
  const t: TokenStatus = {
    token,
    serial,
    slot: Number(slot),
    present: r.bool(),
    loggedIn: r.bool(),
    flags: r.uint32(),
    pinState: texts(r, 'PIN flags'),
    keys: r.uint32(),
    keyList: [],
    sessions: 0,
  };
  for (let n = readCount(r, 16, 'keys'); n > 0; n--) {
    t.keyList.push({ fingerprint: readText(r, 'fingerprint'), id: readText(r, 'key id'), label: readText(r, 'key label'), problems: texts(r, 'problems') });
  }
  t.sessions = r.uint32();
  if (r.bool()) {
    const ckr = readText(r, 'CKR name');
    t.lastError = { message: readText(r, 'error message'), at: readText(r, 'error time') };
    if (ckr) t.lastError.ckr = ckr;
  }
  return t;
}

export function decodeHostStatus(p: Buffer): HostStatus {
  const r = new SshReader(p);
  const s: HostStatus = { modulePath: readText(r, 'module path'), pid: r.uint32(), serialized: r.bool(), tokens: [] };
  for (let n = readCount(r, 40, 'tokens'); n > 0; n--) s.tokens.push(readToken(r));
  r.expectEnd('status');
  return s;
}
