// `tt-agent rng` with no token to read says that it waits, and for what, instead of sitting
// silent; SIGTERM then ends it cleanly (exit 0). JOURNAL_STREAM makes the log lines plain
// ("<6>message", no timestamps), as under systemd. No module named: the default, OpenSC, with
// its PC/SC client pointed at no pcscd, so it reports no slots whatever readers the machine has.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import test from 'node:test';
import { waitForLogText } from '../helpers/agent';

const BIN = path.resolve(__dirname, '../../bin/tt-agent');
const OPENSC = '/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so';

test('rng with no token present says it is waiting, for which module, and stops on SIGTERM', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, PCSCLITE_CSOCK_NAME: '/nonexistent/pcscd.comm', JOURNAL_STREAM: '1:1' };
  delete env.TT_AGENT_MODULE;
  const child = spawn(process.execPath, [BIN, 'rng', '--output', '/dev/null', '--config', '/dev/null'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitForLogText(() => err, 'waiting for a token', 15_000);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, err);
  const lines = err.trimEnd().split('\n');
  assert.equal(lines[0], `<6>using PKCS#11 module ${OPENSC} (the default: none named here or as pkcs11_library in /dev/null)`);
  assert.ok(
    lines.includes(`<6>waiting for a token: no token present (${OPENSC} reports no slots (no reader connected?)); checking again every 3 s until one is inserted`),
    err,
  );
});
