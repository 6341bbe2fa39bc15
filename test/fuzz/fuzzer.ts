// The protocol fuzzer: a real tt-agent (compiled, -D) with a SoftHSM token loaded through its
// module host and file keys of every type, fed random and mutated messages through its real
// socket by several connections at once, in batches. After every batch the agent must be
// alive, answer a valid request in time, sign correctly with a file key and a token key, keep
// its memory bounded, and have written nothing to stderr but its own log lines.
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeRequest, encodeRequest } from '../../src/protocol/agent-messages';
import { encodePublicKeyBlob, decodePublicKeyBlob } from '../../src/protocol/key-blob';
import { publicKeyFromJwk } from '../../src/protocol/jwk';
import { verifySshSignature } from '../../src/protocol/verify';
import { SshReader } from '../../src/protocol/wire';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { launchAgent, treeStats, type FuzzAgent } from './agent-process';
import { controlRequests, LOCK_PASSPHRASE, makeFileKeys, mutableCorpus, type CorpusInputs } from './corpus';
import { cleanPiece, terminalPiece, Rng, type Piece } from './mutate';
import { RawConnection } from './raw-client';

export interface FuzzOptions {
  messages: number;
  seed: number;
  /** Messages per batch (split over `connections`). */
  batch?: number;
  connections?: number;
  /** Health-check reply deadline. */
  replyTimeoutMs?: number;
  /** Fail when the agent tree's RSS grows past its first measurement by more than this. */
  rssGrowthLimitKiB?: number;
  progress?: (line: string) => void;
}

export interface FuzzResult {
  seed: number;
  messages: number;
  batches: number;
  connections: number;
  seconds: number;
  perSecond: number;
  replies: number;
  badReplies: number;
  closedByAgent: number;
  settleTimeouts: number;
  kinds: Record<string, number>;
  rss: { startKiB: number; maxKiB: number; endKiB: number; maxAgentKiB: number };
  fds: { start: number; end: number };
  hostRestartsSeen: number;
  stderr: { lines: number; byLevel: Record<string, number>; unexpected: string[]; errors: [string, number][] };
  failures: string[];
}

const SIGN_FLAGS_RSA_SHA2_512 = 4;

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const batch = opts.batch ?? 2000;
  const conns = opts.connections ?? 8;
  const replyTimeoutMs = opts.replyTimeoutMs ?? 10_000;
  const growthLimit = opts.rssGrowthLimitKiB ?? 256 * 1024;
  const say = opts.progress ?? (() => undefined);
  const rng = new Rng(opts.seed);
  const tok: TestToken = makeToken({ setEnv: false });
  let agent: FuzzAgent | undefined;
  const failures: string[] = [];
  const kinds: Record<string, number> = {};
  let sent = 0;
  let replies = 0;
  let badReplies = 0;
  let closedByAgent = 0;
  let settleTimeouts = 0;
  let batches = 0;
  const hostPids = new Set<number>();
  const started = Date.now();
  try {
    const outside = path.join(tok.dir, 'outside', 'libsofthsm2-copy.so');
    fs.mkdirSync(path.dirname(outside));
    fs.copyFileSync(tok.module, outside);
    const realModule = fs.realpathSync(tok.module);
    agent = await launchAgent(tok.env);
    const fileKeys = makeFileKeys();
    const inputs: CorpusInputs = { fileKeys, tokenBlobs: [], outsideModule: outside, missingModule: path.join(tok.dir, 'missing.so'), realModule };
    const control = new Control(agent.sock, controlRequests(inputs, tok.pin));
    await control.open();
    await control.ensureToken();
    inputs.tokenBlobs = await control.tokenBlobs(fileKeys.map((k) => k.blob));
    if (inputs.tokenBlobs.length === 0) throw new Error('the token keys did not load');
    const corpus = mutableCorpus(inputs);
    corpus.push(control.req.statusFull);
    const guard = pieceGuard(realModule, tok.module);
    const health = new HealthCheck(agent.sock, inputs.tokenBlobs);
    const first = treeStats(agent.pid);
    let maxRss = first.rssKiB;
    let maxAgentRss = first.agentRssKiB;
    say(`agent pid ${agent.pid}, host pids ${first.pids.slice(1).join(',') || 'none'}, RSS ${mib(first.rssKiB)}, fds ${first.fds}; seed ${opts.seed}`);

    while (sent < opts.messages) {
      batches++;
      // Control actions that must not be mutated: they spend the token's PIN counter or lock the agent.
      await control.open();
      if (batches % 25 === 0) await control.badPinCycle(failures);
      await control.ensureToken();
      if (batches % 10 === 0) await control.lockCycle(failures);

      const want = Math.min(batch, opts.messages - sent);
      const perConn = Math.ceil(want / conns);
      const outcomes = await Promise.all(
        Array.from({ length: conns }, (_, i) => fuzzConnection(agent!.sock, rng, corpus, guard, Math.min(perConn, want - i * perConn), kinds)),
      );
      for (const o of outcomes) {
        sent += o.messages;
        replies += o.replies;
        badReplies += o.badReplies;
        if (o.closed) closedByAgent++;
        if (o.timedOut) settleTimeouts++;
      }

      // After every batch: alive, answering, signing right, bounded, quiet.
      if (!agent.alive()) {
        failures.push(`batch ${batches}: the agent process is gone (exit ${agent.child.exitCode}, signal ${agent.child.signalCode})`);
        break;
      }
      await control.ensureToken();
      const problem = await health.check(replyTimeoutMs);
      if (problem) {
        failures.push(`batch ${batches} (${sent} messages): ${problem}`);
        say(`FAILURE ${failures.at(-1)}`);
      }
      const st = treeStats(agent.pid);
      for (const p of st.pids.slice(1)) hostPids.add(p);
      maxRss = Math.max(maxRss, st.rssKiB);
      maxAgentRss = Math.max(maxAgentRss, st.agentRssKiB);
      if (st.rssKiB - first.rssKiB > growthLimit) failures.push(`batch ${batches}: RSS ${mib(st.rssKiB)} grew more than ${mib(growthLimit)} over ${mib(first.rssKiB)}`);
      if (agent.scan.unexpectedCount > 0 && failures.every((f) => !f.includes('stderr'))) {
        failures.push(`batch ${batches}: unexpected stderr output: ${agent.scan.unexpected[0]}`);
      }
      if (batches % 25 === 0 || sent >= opts.messages) {
        const secs = (Date.now() - started) / 1000;
        say(`${sent} messages, ${batches} batches, ${Math.round(sent / secs)}/s, RSS ${mib(st.rssKiB)} (max ${mib(maxRss)}), fds ${st.fds}, failures ${failures.length}`);
      }
      if (failures.length > 20) break;
    }
    await control.send(control.req.unlock).catch(() => undefined);
    control.close();
    const last = treeStats(agent.pid);
    const seconds = (Date.now() - started) / 1000;
    return {
      seed: opts.seed,
      messages: sent,
      batches,
      connections: batches * conns,
      seconds: Math.round(seconds * 10) / 10,
      perSecond: Math.round(sent / seconds),
      replies,
      badReplies,
      closedByAgent,
      settleTimeouts,
      kinds,
      rss: { startKiB: first.rssKiB, maxKiB: maxRss, endKiB: last.rssKiB, maxAgentKiB: maxAgentRss },
      fds: { start: first.fds, end: last.fds },
      hostRestartsSeen: Math.max(0, hostPids.size - 1),
      stderr: {
        lines: agent.scan.lines,
        byLevel: agent.scan.byLevel,
        unexpected: agent.scan.unexpected,
        errors: [...agent.scan.errors.entries()].sort((a, b) => b[1] - a[1]),
      },
      failures: badReplies > 0 ? [...failures, `${badReplies} replies were not agent responses`] : failures,
    };
  } finally {
    await agent?.stop();
    tok.cleanup();
  }
}

interface ConnOutcome {
  messages: number;
  replies: number;
  badReplies: number;
  closed: boolean;
  timedOut: boolean;
}

/**
 * One client: pipelines `count` messages' worth of in-sync pieces (written in uneven chunks,
 * so frames split across reads) and collects one reply for each; then, sometimes, ends with a
 * piece that breaks the stream, or vanishes without reading its replies.
 */
async function fuzzConnection(sock: string, rng: Rng, corpus: Buffer[], guard: (p: Piece) => Piece, count: number, kinds: Record<string, number>): Promise<ConnOutcome> {
  const out: ConnOutcome = { messages: 0, replies: 0, badReplies: 0, closed: false, timedOut: false };
  if (count <= 0) return out;
  const c = new RawConnection(sock);
  try {
    await c.connected();
  } catch {
    return out;
  }
  const pieces: Buffer[] = [];
  let clean = 0;
  while (out.messages < count) {
    const p = guard(cleanPiece(rng, corpus));
    kinds[p.kind] = (kinds[p.kind] ?? 0) + p.messages;
    out.messages += p.messages;
    clean += p.messages;
    pieces.push(p.bytes);
  }
  const all = Buffer.concat(pieces);
  const mode = rng.next();
  if (mode < 0.04) {
    // Gone in the middle of a frame.
    kinds['abrupt-disconnect'] = (kinds['abrupt-disconnect'] ?? 0) + 1;
    c.write(all.subarray(0, rng.int(all.length)));
    await c.destroy();
  } else if (mode < 0.08) {
    // Everything written, then gone without reading a reply.
    kinds['no-read-disconnect'] = (kinds['no-read-disconnect'] ?? 0) + 1;
    c.write(all);
    await c.destroy();
  } else {
    for (let at = 0; at < all.length; ) {
      const n = 1 + rng.int(rng.chance(0.5) ? 64 : 65536);
      c.write(all.subarray(at, at + n));
      at += n;
    }
    const r = await c.settle(clean, 60_000);
    out.timedOut = r === 'timeout';
    out.closed = r === 'closed';
    if (r === 'all' && rng.chance(0.3)) {
      const t = guard(terminalPiece(rng, corpus));
      kinds[t.kind] = (kinds[t.kind] ?? 0) + 1;
      out.messages++;
      c.write(t.bytes);
      if (t.closes) {
        out.closed = (await c.settle(Number.MAX_SAFE_INTEGER, 5_000)) === 'closed';
        if (!out.closed) out.timedOut = true; // the agent kept a connection it must drop
      }
    }
    await c.destroy();
  }
  out.replies = c.replies;
  out.badReplies = c.badReplies;
  return out;
}

/**
 * Mutations must never reach the real token with a PIN or lock the agent with an unknown
 * passphrase: such pieces are replaced by a plain REQUEST_IDENTITIES. Only decodable bodies
 * of those types can do either, so only those are decoded here.
 */
function pieceGuard(realModule: string, modulePath: string): (p: Piece) => Piece {
  const dangerous = (body: Buffer): boolean => {
    const type = body[0];
    if (type !== 20 && type !== 26 && type !== 22 && type !== 23) return false;
    let req;
    try {
      req = decodeRequest(Buffer.from(body));
    } catch {
      return false;
    }
    // A wrong UNLOCK while locked costs its connection a growing delay (by design); the
    // control connection tries that path, the fuzz connections would only stall on it.
    if (req.type === 'SSH_AGENTC_LOCK' || req.type === 'SSH_AGENTC_UNLOCK') return !req.passphrase.equals(LOCK_PASSPHRASE);
    if (req.type !== 'SSH_AGENTC_ADD_SMARTCARD_KEY' && req.type !== 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED') return false;
    const id = req.readerId;
    if (id === modulePath || id.includes(realModule) || id.includes(encodeURIComponent(realModule))) return true;
    try {
      return fs.realpathSync(id) === realModule || id === modulePath;
    } catch {
      return false;
    }
  };
  return (p) => {
    // Walk the frames in the piece (a lying header ends the walk: what follows is not a frame start we control).
    for (let at = 0; at + 4 <= p.bytes.length; ) {
      const n = p.bytes.readUInt32BE(at);
      const body = p.bytes.subarray(at + 4, at + 4 + n);
      if (dangerous(body) || (p.kind === 'short-header' && dangerous(p.bytes.subarray(at + 4)))) {
        return { bytes: Buffer.from([0, 0, 0, 1, 11]), messages: p.messages, closes: false, kind: 'guarded' };
      }
      if (body.length < n) break;
      at += 4 + n;
    }
    return p;
  };
}

/** The connection that keeps the agent in a known state between batches. */
class Control {
  private c?: RawConnection;
  constructor(
    private readonly sock: string,
    readonly req: ReturnType<typeof controlRequests>,
  ) {}

  async open(): Promise<void> {
    if (this.c && !this.c.closed) return;
    this.c = new RawConnection(this.sock);
    await this.c.connected();
  }

  send(body: Buffer, timeoutMs = 60_000): Promise<Buffer> {
    return this.c!.request(body, timeoutMs);
  }

  async identities(): Promise<Buffer[]> {
    await this.send(this.req.unlock); // the lock is the fuzz's, not the check's business
    const reply = await this.send(encodeRequest({ type: 'SSH_AGENTC_REQUEST_IDENTITIES' }));
    const r = new SshReader(reply);
    if (r.uint8() !== 12) throw new Error(`REQUEST_IDENTITIES answered type ${reply[0]}`);
    const out: Buffer[] = [];
    for (let n = r.uint32(); n > 0; n--) {
      out.push(Buffer.from(r.string()));
      r.string();
    }
    return out;
  }

  async ensureToken(): Promise<void> {
    await this.identities(); // unlocks
    for (const add of this.req.addFileKeys) await this.send(add);
    // The batch may have removed the module (REMOVE_ALL, REMOVE_SMARTCARD_KEY): load it again.
    // A module still loaded is refused (its keys keep their constraints) and that is fine: a
    // LOCK in the batch sealed its PIN and the unlock above unsealed it.
    const reply = await this.send(this.req.addToken);
    if (reply[0] !== 6 && (await this.identities()).length <= this.req.addFileKeys.length) {
      throw new Error('loading the token with the right PIN failed');
    }
  }

  private tokenSeen?: Buffer[];

  async tokenBlobs(fileBlobs: Buffer[]): Promise<Buffer[]> {
    this.tokenSeen = (await this.identities()).filter((b) => !fileBlobs.some((f) => f.equals(b)));
    return this.tokenSeen;
  }

  /** Locks the agent for the coming batch; a wrong UNLOCK must fail (after its delay). */
  async lockCycle(failures: string[]): Promise<void> {
    const locked = await this.send(this.req.lock);
    if (locked[0] !== 6) failures.push(`LOCK answered type ${locked[0]}`);
    const wrong = await this.send(encodeRequest({ type: 'SSH_AGENTC_UNLOCK', passphrase: Buffer.from('not it') }));
    if (wrong[0] !== 5) failures.push(`a wrong UNLOCK was answered with type ${wrong[0]}`);
  }

  /** A wrong PIN on a fresh load must fail and leave the counter to the right PIN, which resets it. */
  async badPinCycle(failures: string[]): Promise<void> {
    await this.send(this.req.removeToken);
    const bad = await this.send(this.req.addTokenBadPin);
    if (bad[0] !== 5) failures.push(`a wrong PIN was answered with type ${bad[0]}, not SSH_AGENT_FAILURE`);
    const good = await this.send(this.req.addToken);
    if (good[0] !== 6) failures.push(`the right PIN after a wrong one was answered with type ${good[0]}`);
  }

  close(): void {
    void this.c?.destroy();
  }
}

/** A valid request answered in time, and two signatures that verify: a file key and a token key. */
class HealthCheck {
  private readonly key = generateKeyPairSync('ed25519').privateKey;
  private readonly jwk = this.key.export({ format: 'jwk' });
  private readonly blob = encodePublicKeyBlob(publicKeyFromJwk(this.jwk));
  private readonly tokenKey: Buffer;

  constructor(
    private readonly sock: string,
    tokenBlobs: Buffer[],
  ) {
    this.tokenKey = tokenBlobs.find((b) => b.includes('ssh-ed25519')) ?? tokenBlobs[0];
  }

  async check(timeoutMs: number): Promise<string | undefined> {
    const c = new RawConnection(this.sock);
    try {
      await c.connected();
      await c.request(encodeRequest({ type: 'SSH_AGENTC_UNLOCK', passphrase: LOCK_PASSPHRASE }), timeoutMs);
      const ids = await c.request(encodeRequest({ type: 'SSH_AGENTC_REQUEST_IDENTITIES' }), timeoutMs);
      if (ids[0] !== 12) return `REQUEST_IDENTITIES answered type ${ids[0]}`;
      const added = await c.request(encodeRequest({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: this.jwk, comment: 'health' }, constraints: [] }), timeoutMs);
      if (added[0] !== 6) return `ADD_IDENTITY of the health key answered type ${added[0]}`;
      for (const [blob, what] of [
        [this.blob, 'file key'],
        [this.tokenKey, 'token key'],
      ] as const) {
        const data = Buffer.from(`health ${Date.now()} ${what}`);
        const reply = await c.request(encodeRequest({ type: 'SSH_AGENTC_SIGN_REQUEST', keyBlob: blob, data, flags: SIGN_FLAGS_RSA_SHA2_512 }), timeoutMs);
        if (reply[0] !== 14) return `SIGN_REQUEST with the ${what} answered type ${reply[0]}`;
        const sig = new SshReader(reply.subarray(1)).string();
        if (!verifySshSignature(decodePublicKeyBlob(blob), sig, data)) return `the ${what}'s signature does not verify`;
      }
      return undefined;
    } catch (err) {
      return `health check: ${(err as Error).message}`;
    } finally {
      await c.destroy();
    }
  }
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}
