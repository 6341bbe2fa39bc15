// Compiles fixtures/broken-rng.c (SoftHSM underneath, C_GenerateRandom broken on demand,
// a token that can be pulled) into a temp dir. Needs gcc and p11-kit's pkcs11.h.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SOURCE = path.join(__dirname, 'fixtures', 'broken-rng.c');
const HEADERS = '/usr/include/p11-kit-1';

export function brokenModuleUnavailable(): string | false {
  if (!fs.existsSync(path.join(HEADERS, 'p11-kit', 'pkcs11.h'))) return 'needs p11-kit pkcs11.h (libp11-kit-dev)';
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'needs gcc';
  }
  return false;
}

export function buildBrokenModule(): { path: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-broken-rng-'));
  const out = path.join(dir, 'broken-rng.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-I', HEADERS, '-o', out, SOURCE, '-ldl'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { path: out, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
