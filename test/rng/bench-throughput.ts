// Throughput of the feeder into the kernel next to raw C_GenerateRandom, on SoftHSM.
//   node --import tsx test/rng/bench-throughput.ts [MiB=32] [chunkKiB=64]
// Feeding the kernel needs root; without it only the file path is measured.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openModule } from '../../src/pkcs11';
import { Feeder } from '../../src/rng/feeder';
import { HealthTests } from '../../src/rng/health';
import { FileSink, KernelPoolSink, type EntropySink } from '../../src/rng/kernel';
import { TokenRandomSource } from '../../src/rng/token-source';
import { makeToken } from '../helpers/softhsm';

const mib = Number(process.argv[2] ?? 32);
const chunk = Number(process.argv[3] ?? 64) * 1024;
const total = mib * 1024 * 1024;

function rate(bytes: number, ns: bigint): string {
  return `${((bytes / (Number(ns) / 1e9)) / (1024 * 1024)).toFixed(1)} MiB/s`;
}

async function main(): Promise<void> {
  const tok = makeToken({ tokens: 'empty' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-rng-bench-'));
  try {
    // 1. raw C_GenerateRandom, nothing else
    const mod = openModule(tok.module, { osLocking: false });
    const session = mod.slots()[0]!.openSession();
    let t = process.hrtime.bigint();
    for (let n = 0; n < total; n += chunk) session.generateRandom(chunk);
    const raw = process.hrtime.bigint() - t;
    // 2. the health tests alone, on one chunk repeated (state continues, digest differs per chunk below)
    const h = new HealthTests();
    const sample = session.generateRandom(chunk);
    t = process.hrtime.bigint();
    for (let n = 0; n < total; n += chunk) {
      sample[0] = n & 0xff; // not a replay
      h.check(sample);
    }
    const health = process.hrtime.bigint() - t;
    await session.close();
    mod.close();

    const feed = async (sink: EntropySink) => {
      const source = new TokenRandomSource({ modulePath: tok.module, log: () => undefined });
      const feeder = new Feeder({ source, sink, health: new HealthTests(), chunkSize: chunk, entropyRatio: 2, intervalMs: 1000, log: () => undefined });
      source.open();
      const t0 = process.hrtime.bigint();
      await feeder.once(total);
      const dt = process.hrtime.bigint() - t0;
      await source.close();
      await sink.close();
      return dt;
    };
    const file = await feed(new FileSink(path.join(dir, 'out.bin')));
    const kernel = process.getuid?.() === 0 ? await feed(new KernelPoolSink()) : undefined;

    console.log(`${mib} MiB in ${chunk / 1024} KiB chunks, SoftHSM ${os.release()}`);
    console.log(`raw C_GenerateRandom           ${rate(total, raw)}`);
    console.log(`health tests alone             ${rate(total, health)}`);
    console.log(`token -> tests -> file         ${rate(total, file)}`);
    if (kernel !== undefined) {
      console.log(`token -> tests -> RNDADDENTROPY ${rate(total, kernel)}  (${((Number(raw) / Number(kernel)) * 100).toFixed(0)} % of raw)`);
    }
  } finally {
    tok.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
