// The per-signature cost of describing a key use, in-process: classifying the signed data,
// naming the host from known_hosts (a stat per file once cached), the per-key policy lookup,
// the use-log line and its ring buffer. The requester's /proc chain is read once per
// connection and is timed on its own. Runs in the bench process (no agent, no token).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { KeyUses } from '../../src/agent/key-uses';
import { readRequesterChain } from '../../src/agent/requester';
import { newConnectionState } from '../../src/agent/connection-state';
import { keyPolicy } from '../../src/agent/use-config';
import { UseConfigSource } from '../../src/agent/use-config-file';
import { classifyUse } from '../../src/agent/use-record';
import { decodePublicKeyBlob } from '../../src/protocol/key-blob';
import { SshWriter } from '../../src/protocol/wire';

export interface ClassifyCost {
  /** CPU microseconds per signature, by class (median of 5 batches). */
  perUse: Record<'ssh-login' | 'sshsig' | 'other', number>;
  /** CPU microseconds to read the requester's parent chain from /proc (once per connection). */
  requesterChainUs: number;
}

export function measureClassification(dir: string, perBatch = 2000): ClassifyCost {
  const keyFile = path.join(dir, 'classify-host');
  fs.rmSync(keyFile, { force: true });
  fs.rmSync(`${keyFile}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const [type, b64] = fs.readFileSync(`${keyFile}.pub`, 'utf8').split(' ');
  const hostKeyBlob = Buffer.from(b64, 'base64');
  // A known_hosts of a few hundred lines, the host's own somewhere in it.
  const knownHosts = path.join(dir, 'classify-known_hosts');
  const filler = Array.from({ length: 300 }, (_, i) => `host${i}.example.com ${type} ${b64.slice(0, -8)}${String(i).padStart(8, 'A')}`);
  filler.splice(150, 0, `git.example.com ${type} ${b64}`);
  fs.writeFileSync(knownHosts, `${filler.join('\n')}\n`);
  const configFile = path.join(dir, 'classify-config');
  fs.writeFileSync(configFile, `known-hosts ${knownHosts}\nKey "work*"\n  confirm forwarded\nHost *.example.com\n  keys work\n`);

  const uses = new KeyUses(new UseConfigSource(configFile, () => {}), () => {});
  const conn = newConnectionState(1, { pid: process.pid, uid: process.getuid?.() ?? 0 });
  const sessionId = randomBytes(32);
  conn.binds.push({ hostKeyBlob, hostKey: decodePublicKeyBlob(hostKeyBlob), sessionId, isForwarding: false });
  const keyBlob = new SshWriter().string('ssh-ed25519').string(randomBytes(32)).toBuffer();
  const data = {
    'ssh-login': new SshWriter().string(sessionId).uint8(50).string('alice').string('ssh-connection').string('publickey').bool(true).string('ssh-ed25519').string(keyBlob).toBuffer(),
    sshsig: Buffer.concat([Buffer.from('SSHSIG'), new SshWriter().string('git').string('').string('sha512').string(randomBytes(64)).toBuffer()]),
    other: randomBytes(64),
  };

  const perUse = {} as ClassifyCost['perUse'];
  for (const kind of Object.keys(data) as (keyof typeof data)[]) {
    const batches: number[] = [];
    for (let b = 0; b < 6; b++) {
      // CPU time, not wall time: on a shared machine the wait for a core is not the cost.
      const t0 = process.cpuUsage();
      for (let i = 0; i < perBatch; i++) {
        const c = classifyUse(conn, keyBlob, 'work card', data[kind], uses.context());
        keyPolicy(c.config, { fingerprint: c.use.key.fingerprint, comment: 'work card' });
        c.use.outcome = 'signed';
        uses.record(c.use, c.config);
      }
      const spent = process.cpuUsage(t0);
      if (b > 0) batches.push((spent.user + spent.system) / perBatch); // the first batch warms up
    }
    batches.sort((x, y) => x - y);
    perUse[kind] = batches[Math.floor(batches.length / 2)];
  }
  const t0 = process.cpuUsage();
  const runs = 200;
  for (let i = 0; i < runs; i++) readRequesterChain(process.pid, process.getuid?.() ?? 0);
  const spent = process.cpuUsage(t0);
  const requesterChainUs = (spent.user + spent.system) / runs;
  return { perUse, requesterChainUs };
}
