// One benchmark cell under the V8 profiler, for finding where the agent spends a signature:
//   node --import tsx test/bench/profile.ts [key=p256] [concurrency=1] [seconds=3]
// Starts tt-agent with --cpu-prof (the agent hands its node flags to its module host); the .cpuprofile
// files land in a temp dir that is printed at the end (open them in Chrome DevTools, or
// summarise with `node --import tsx test/bench/top-functions.ts FILE`).
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeToken } from '../helpers/softhsm';
import { startTtAgent } from './agents';
import type { ClientJob, ClientResult } from './client';

const TYPES: Record<string, string> = { rsa2048: 'ssh-rsa', p256: 'ecdsa-sha2-nistp256', p384: 'ecdsa-sha2-nistp384', ed25519: 'ssh-ed25519' };

async function main(): Promise<void> {
  const [key = 'p256', c = '1', secs = '3'] = process.argv.slice(2);
  const token = makeToken({
    tokens: [{ label: 'bench', keys: [{ kind: key === 'rsa2048' ? 'rsa:2048' : key === 'p384' ? 'ec:secp384r1' : key === 'ed25519' ? 'ed25519' : 'ec:prime256v1', id: '01', label: key }] }],
    setEnv: false,
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-profile-'));
  const profDir = path.join(dir, 'profiles');
  const agent = await startTtAgent(
    { dir, env: token.env, module: token.module, pin: token.pin },
    ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  );
  const client = fork(path.join(__dirname, 'client.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const blob = agent.keys.find((k) => k.type === TYPES[key])!.blob;
  const job: ClientJob = { socket: agent.sock, blob: blob.toString('base64'), flags: key === 'rsa2048' ? 2 : 0, concurrency: Number(c), seconds: Number(secs), warmup: 3 };
  const result = await new Promise<{ ok: boolean; result: ClientResult }>((resolve) => {
    client.once('message', resolve as (m: unknown) => void);
    client.send(job);
  });
  client.disconnect();
  console.log(JSON.stringify(result.result, null, 1));
  await agent.stop();
  await new Promise((r) => setTimeout(r, 1000));
  token.cleanup();
  console.log(`profiles in ${profDir}:`, fs.existsSync(profDir) ? fs.readdirSync(profDir) : 'none');
}

void main();
