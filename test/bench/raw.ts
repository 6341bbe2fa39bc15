// The token's own limit: C_Sign called straight through src/pkcs11, no agent, no pipe. A
// forked child of run.ts (started with UV_THREADPOOL_SIZE = the session count, so parallel
// C_SignAsync calls are not queued behind libuv's default four threads). Jobs by IPC:
//   one      one session, Session.sign synchronously in a loop (nothing else in the way)
//   several  N sessions, each a loop of Session.sign on a worker thread, all at once
// Signatures are kept and verified after the timed window, like the agent clients'.
import { randomFillSync } from 'node:crypto';
import { findKeyPairs, type KeyPair } from '../../src/pkcs11/discover';
import { openModule } from '../../src/pkcs11/module';
import type { Session } from '../../src/pkcs11/session';
import { planSignature } from '../../src/pkcs11/sign';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { encodeSshSignature } from '../../src/protocol/signature';
import { verifierFor } from './verify';

export interface RawJob {
  /** SSH key blob (base64) of the key to sign with */
  blob: string;
  flags: number;
  mode: 'one' | 'several';
  sessions: number;
  seconds: number;
}

export interface RawResult {
  signatures: number;
  rate: number;
  verified: number;
  bad: number;
}

function setUp(modulePath: string, pin: string, sessions: number): { sessions: Session[]; pairs: KeyPair[] } {
  const module = openModule(modulePath);
  const token = module.slots()[0];
  if (!token) throw new Error('the bench token is not in the module');
  const opened = Array.from({ length: sessions }, () => token.openSession());
  opened[0].login(Buffer.from(pin));
  return { sessions: opened, pairs: findKeyPairs(opened[0]).filter((p) => p.privateKey && p.publicKey) };
}

export async function runRaw(job: RawJob, sessions: Session[], pairs: KeyPair[]): Promise<RawResult> {
  const blob = Buffer.from(job.blob, 'base64');
  const pair = pairs.find((p) => encodePublicKeyBlob(p.publicKey!).equals(blob));
  if (!pair) throw new Error('key not found on the token');
  const token = sessions[0].token;
  const kept: Array<[Buffer, Buffer, string]> = [];
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(job.seconds * 1e9));
  const next = () => {
    const data = randomFillSync(Buffer.alloc(64));
    return { data, plan: planSignature(token, pair.publicKey!, data, job.flags) };
  };
  if (job.mode === 'one') {
    const s = sessions[0];
    do {
      const { data, plan } = next();
      kept.push([data, await s.sign(pair.privateKey!, plan.mechanism, plan.input, { sync: true }), plan.algorithm]);
    } while (process.hrtime.bigint() < deadline);
  } else {
    await Promise.all(
      sessions.slice(0, job.sessions).map(async (s) => {
        do {
          const { data, plan } = next();
          kept.push([data, await s.sign(pair.privateKey!, plan.mechanism, plan.input), plan.algorithm]);
        } while (process.hrtime.bigint() < deadline);
      }),
    );
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const verifier = verifierFor(blob, job.flags);
  let verified = 0;
  for (const [data, raw, algorithm] of kept) if (verifier.check(data, encodeSshSignature(pair.publicKey!, algorithm, raw))) verified++;
  return { signatures: kept.length, rate: kept.length / seconds, verified, bad: kept.length - verified };
}

// As a forked child: argv MODULE PIN SESSIONS; one job per IPC message.
if (require.main === module && process.send) {
  const [modulePath, pin, count] = process.argv.slice(2);
  const { sessions, pairs } = setUp(modulePath, pin, Number(count));
  process.on('message', (job: RawJob) => {
    runRaw(job, sessions, pairs).then(
      (result) => process.send!({ ok: true, result }),
      (err: Error) => process.send!({ ok: false, error: err.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}
