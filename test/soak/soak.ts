// The soak: many clients signing at once with file keys and token keys (through the module
// host), while one more client keeps adding, removing, locking and unlocking. Every
// signature must verify against the key that was asked for; a request may fail (the key is
// gone or the agent locked at that moment) but never be answered wrongly. Before and after,
// the agent's and its hosts' descriptors and memory are counted from /proc.
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { encodeRequest } from '../../src/protocol/agent-messages';
import { decodePublicKeyBlob } from '../../src/protocol/key-blob';
import { decodeSshSignature } from '../../src/protocol/signature';
import { verifySshSignature } from '../../src/protocol/verify';
import { SshReader } from '../../src/protocol/wire';
import { makeToken } from '../helpers/softhsm';
import { launchAgent, treeStats, type TreeStats } from '../fuzz/agent-process';
import { LOCK_PASSPHRASE, makeFileKeys } from '../fuzz/corpus';
import { RawConnection } from '../fuzz/raw-client';

export interface SoakOptions {
  clients: number;
  signaturesPerClient: number;
  /** How many chaos actions over the run (spread by signing progress); default 200. */
  chaosActions?: number;
  progress?: (line: string) => void;
}

export interface SoakResult {
  clients: number;
  signaturesPerClient: number;
  seconds: number;
  signatures: { verified: number; failed: number; wrong: number; fileKey: number; tokenKey: number };
  perSecond: number;
  chaos: Record<string, number>;
  before: TreeStats;
  after: TreeStats;
  maxRssKiB: number;
  wrongAnswers: string[];
  stderrUnexpected: string[];
  failures: string[];
}

const SSH_AGENT_FAILURE = 5;
const SSH_AGENT_SUCCESS = 6;
const SSH_AGENT_SIGN_RESPONSE = 14;

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const say = opts.progress ?? (() => undefined);
  const tok = makeToken({ setEnv: false });
  const agent = await launchAgent(tok.env);
  const realModule = fs.realpathSync(tok.module);
  const fileKeys = makeFileKeys();
  const req = {
    addToken: encodeRequest({ type: 'SSH_AGENTC_ADD_SMARTCARD_KEY', readerId: realModule, pin: Buffer.from(tok.pin), constraints: [] }),
    removeToken: encodeRequest({ type: 'SSH_AGENTC_REMOVE_SMARTCARD_KEY', readerId: realModule, pin: Buffer.alloc(0) }),
    lock: encodeRequest({ type: 'SSH_AGENTC_LOCK', passphrase: LOCK_PASSPHRASE }),
    unlock: encodeRequest({ type: 'SSH_AGENTC_UNLOCK', passphrase: LOCK_PASSPHRASE }),
    removeAll: encodeRequest({ type: 'SSH_AGENTC_REMOVE_ALL_IDENTITIES' }),
    addFile: fileKeys.map((k) => encodeRequest({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: k.jwk, comment: `soak ${k.name}` }, constraints: [] })),
    removeFile: fileKeys.map((k) => encodeRequest({ type: 'SSH_AGENTC_REMOVE_IDENTITY', keyBlob: k.blob })),
  };
  const failures: string[] = [];
  const wrongAnswers: string[] = [];
  const chaos: Record<string, number> = {};
  const counts = { verified: 0, failed: 0, wrong: 0, fileKey: 0, tokenKey: 0 };
  try {
    const control = new RawConnection(agent.sock);
    await control.connected();
    const expect = async (body: Buffer, what: string, type = SSH_AGENT_SUCCESS) => {
      const r = await control.request(body, 60_000);
      if (r[0] !== type) failures.push(`${what} answered type ${r[0]}`);
    };
    const restore = async () => {
      await control.request(req.unlock, 60_000);
      for (const a of req.addFile) await expect(a, 'ADD_IDENTITY');
      // A module still loaded is refused (its keys keep their constraints): add it only when
      // the chaos removed it.
      const listed = await listIdentities(control);
      if (listed.length <= req.addFile.length) await expect(req.addToken, 'ADD_SMARTCARD_KEY');
    };
    await restore();
    const fileBlobs = fileKeys.map((k) => k.blob);
    const tokenBlobs = (await listIdentities(control)).filter((b) => !fileBlobs.some((f) => f.equals(b)));
    if (tokenBlobs.length === 0) throw new Error('no token keys loaded');
    const keys = [...fileBlobs.map((blob) => ({ blob, token: false })), ...tokenBlobs.map((blob) => ({ blob, token: true }))];
    // Settle before counting: the first signatures open the module host's sessions.
    await Promise.all(keys.map((k) => control.request(signRequest(k.blob, Buffer.from('warm-up')), 60_000)));
    const before = await stableStats(agent.pid);
    let maxRss = before.rssKiB;
    say(`agent ${agent.pid}: ${keys.length} keys (${tokenBlobs.length} on the token), RSS ${mib(before.rssKiB)}, fds agent ${before.agentFds} / tree ${before.fds}`);

    const started = Date.now();
    let running = true;
    const signer = async (n: number) => {
      const c = new RawConnection(agent.sock);
      await c.connected();
      for (let i = 0; i < opts.signaturesPerClient; i++) {
        const key = keys[(n + i * 7) % keys.length];
        const data = randomBytes(16 + ((n * 31 + i) % 200));
        const flags = i % 3 === 0 ? 0 : i % 3 === 1 ? 2 : 4;
        const reply = await c.request(signRequest(key.blob, data, flags), 60_000);
        const verdict = judge(reply, key.blob, data, flags);
        if (verdict === 'verified') counts.verified++;
        else if (verdict === 'failed') {
          counts.failed++;
          // As a real client would, do not hammer a locked agent or a missing key.
          await sleep(10);
        }
        else {
          counts.wrong++;
          if (wrongAnswers.length < 20) wrongAnswers.push(`client ${n} signature ${i}: ${verdict}`);
        }
        if (key.token) counts.tokenKey++;
        else counts.fileKey++;
      }
      await c.destroy();
    };
    const chaosLoop = async () => {
      const c = new RawConnection(agent.sock);
      await c.connected();
      let step = 0;
      const total = opts.clients * opts.signaturesPerClient;
      const every = Math.max(10, Math.floor(total / (opts.chaosActions ?? 200)));
      const done = () => counts.verified + counts.failed + counts.wrong;
      // Paced by the signers' progress, not by the clock, so the mix is the same on any machine.
      const until = async (n: number) => {
        while (running && done() < n) await sleep(1);
      };
      while (running) {
        await until(done() + every);
        if (!running) break;
        const action = ['remove-file', 'add-file', 'lock-unlock', 'remove-token', 'add-token', 'remove-all', 'restore'][step++ % 7];
        chaos[action] = (chaos[action] ?? 0) + 1;
        const k = step % fileKeys.length;
        switch (action) {
          case 'remove-file':
            await c.request(req.removeFile[k], 60_000);
            break;
          case 'add-file':
            await c.request(req.addFile[k], 60_000);
            break;
          case 'lock-unlock':
            await c.request(req.lock, 60_000);
            await until(done() + Math.ceil(every / 4));
            // Locking logged the token out and sealed its PIN; unlocking unsealed it: the next
            // signature logs in again by itself, nothing to hand back.
            await c.request(req.unlock, 60_000);
            break;
          case 'remove-token':
            await c.request(req.removeToken, 60_000);
            break;
          case 'add-token':
          case 'restore':
            await c.request(req.unlock, 60_000);
            if (action === 'restore') for (const a of req.addFile) await c.request(a, 60_000);
            await c.request(req.addToken, 60_000);
            break;
          case 'remove-all':
            await c.request(req.removeAll, 60_000);
            break;
        }
        maxRss = Math.max(maxRss, treeStats(agent.pid).rssKiB);
      }
      await c.destroy();
    };
    const ticker = setInterval(() => {
      const done = counts.verified + counts.failed + counts.wrong;
      say(`${done}/${opts.clients * opts.signaturesPerClient} signatures: ${counts.verified} verified, ${counts.failed} failed, ${counts.wrong} wrong`);
    }, 10_000);
    const chaosDone = chaosLoop();
    await Promise.all(Array.from({ length: opts.clients }, (_, n) => signer(n)));
    running = false;
    await chaosDone;
    clearInterval(ticker);
    const seconds = (Date.now() - started) / 1000;

    // The same state as before (token and file keys loaded, agent unlocked), then count again.
    await restore();
    await Promise.all(keys.map((k) => control.request(signRequest(k.blob, Buffer.from('warm-up')), 60_000)));
    const after = await stableStats(agent.pid, before.agentFds);
    await control.destroy();
    if (!agent.alive()) failures.push('the agent died');
    if (counts.wrong > 0) failures.push(`${counts.wrong} wrong answers`);
    if (after.agentFds > before.agentFds) failures.push(`agent descriptors ${before.agentFds} → ${after.agentFds}`);
    if (after.fds > before.fds) failures.push(`agent + host descriptors ${before.fds} → ${after.fds}`);
    if (agent.scan.unexpectedCount > 0) failures.push(`unexpected stderr: ${agent.scan.unexpected[0]}`);
    return {
      clients: opts.clients,
      signaturesPerClient: opts.signaturesPerClient,
      seconds: Math.round(seconds * 10) / 10,
      signatures: counts,
      perSecond: Math.round((counts.verified + counts.failed) / seconds),
      chaos,
      before,
      after,
      maxRssKiB: maxRss,
      wrongAnswers,
      stderrUnexpected: agent.scan.unexpected,
      failures,
    };
  } finally {
    await agent.stop();
    tok.cleanup();
  }
}

function signRequest(blob: Buffer, data: Buffer, flags = 0): Buffer {
  return encodeRequest({ type: 'SSH_AGENTC_SIGN_REQUEST', keyBlob: blob, data, flags });
}

/** 'verified', 'failed' (an honest refusal), or what was wrong with the answer. */
function judge(reply: Buffer, blob: Buffer, data: Buffer, flags: number): 'verified' | 'failed' | string {
  if (reply[0] === SSH_AGENT_FAILURE && reply.length === 1) return 'failed';
  if (reply[0] !== SSH_AGENT_SIGN_RESPONSE) return `answered type ${reply[0]} (${reply.length} bytes)`;
  try {
    const sig = new SshReader(reply.subarray(1)).string();
    const pk = decodePublicKeyBlob(blob);
    if (!verifySshSignature(pk, sig, data)) return 'signature does not verify with the requested key';
    if (pk.kind === 'rsa') {
      const want = flags & 4 ? 'rsa-sha2-512' : flags & 2 ? 'rsa-sha2-256' : 'ssh-rsa';
      const got = decodeSshSignature(sig).algorithm;
      if (got !== want) return `RSA signature ${got} where flags ${flags} ask for ${want}`;
    }
    return 'verified';
  } catch (err) {
    return `undecodable signature: ${(err as Error).message}`;
  }
}

async function listIdentities(c: RawConnection): Promise<Buffer[]> {
  const reply = await c.request(encodeRequest({ type: 'SSH_AGENTC_REQUEST_IDENTITIES' }), 60_000);
  const r = new SshReader(reply);
  if (r.uint8() !== 12) throw new Error(`REQUEST_IDENTITIES answered type ${reply[0]}`);
  const out: Buffer[] = [];
  for (let n = r.uint32(); n > 0; n--) {
    out.push(Buffer.from(r.string()));
    r.string();
  }
  return out;
}

/** Descriptors of closed client connections go away asynchronously: wait for the count to settle. */
async function stableStats(pid: number, target?: number): Promise<TreeStats> {
  let s = treeStats(pid);
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    await sleep(200);
    const again = treeStats(pid);
    if (again.fds === s.fds && again.agentFds === s.agentFds && (target === undefined || again.agentFds <= target)) return again;
    s = again;
  }
  return s;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}
