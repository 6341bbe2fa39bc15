// Signing speed through the module host (agent side of the pipe → host → C_Sign → back),
// next to raw C_Sign in one process, on a fresh SoftHSM token. Not part of the test suite:
//   node --import tsx test/host/measure-sign.ts [seconds per case]
// Prints a markdown table. Every signature is a real C_Sign; one in 100 is verified.
import { createHostProvider } from '../../src/host/host-provider';
import { quietPins } from './pins';
import { ModuleHost } from '../../src/host/module-host';
import { makeToken } from '../helpers/softhsm';
import { verifySshSignature } from './verify';

interface Signer {
  sign(blob: Buffer, data: Buffer, flags: number): Promise<Buffer>;
}

async function measure(s: Signer, id: { blob: Buffer; publicKey: import('../../src/protocol/public-key').PublicKey }, concurrency: number, seconds: number) {
  const data = Buffer.alloc(64, 0x5a);
  const lat: number[] = [];
  const end = Date.now() + seconds * 1000;
  let n = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const start = process.hrtime.bigint();
        const sig = await s.sign(id.blob, data, 2);
        lat.push(Number(process.hrtime.bigint() - start) / 1e3);
        if (n++ % 100 === 0) verifySshSignature(id.publicKey, data, sig);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { rate: lat.length / secs, p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.floor(lat.length * 0.99)] };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 2);
  const tok = makeToken();
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  const inProcess = new ModuleHost(tok.module);
  try {
    const { identities } = await provider.load(Buffer.from(tok.pin));
    await inProcess.load(Buffer.from(tok.pin));
    console.log('| key | path | C | sig/s | p50 µs | p99 µs |\n|---|---|---|---|---|---|');
    for (const label of ['rsa2048', 'p256', 'p384']) {
      const id = identities.find((i) => i.comment === label)!;
      for (const [name, signer] of [
        ['in-process (no pipe)', inProcess],
        ['module host', provider],
      ] as const) {
        for (const c of [1, 16]) {
          const r = await measure(signer, id, c, seconds);
          console.log(`| ${label} | ${name} | ${c} | ${r.rate.toFixed(0)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} |`);
        }
      }
    }
  } finally {
    await provider.close();
    await inProcess.close();
    tok.cleanup();
  }
}

void main();
