// `tt-agent --version` and `tt-agent --help` load no native code (nor yargs): they answer where
// pkcs11js or the addon did not build, and stay cheap. The top-level help, written out by hand
// in src/cli/help.ts, must keep saying what the command modules and the agent's parser say.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadCommands } from '../../src/cli/commands';
import { COMMAND_SUMMARIES } from '../../src/cli/help';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/tt-agent');
const GUARD = path.join(ROOT, 'test/fixtures/no-native.cjs');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

function tt(args: string[], preload: string[] = ['--require', GUARD], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [...preload, BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, SSH_AUTH_SOCK: '', ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the guard really keeps native code out: a command that needs pkcs11js fails under it', () => {
  const r = tt(['list', '/usr/lib/softhsm/libsofthsm2.so']);
  assert.notEqual(r.status, 0);
  assert.match(r.stdout + r.stderr, /refused by no-native\.cjs/);
});

for (const args of [['--version'], ['-V'], ['--version', '--debug']]) {
  test(`tt-agent ${args.join(' ')} answers without pkcs11js, the addon or yargs`, () => {
    const r = tt(args);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });
}

for (const args of [['--help'], ['-h'], ['help']]) {
  test(`tt-agent ${args.join(' ')} answers without pkcs11js, the addon or yargs`, () => {
    const r = tt(args);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Commands:$/m);
    assert.match(r.stdout, /^Agent options/m);
  });
}

test("the top-level help's command lines are the command modules' own", () => {
  const modules = loadCommands();
  assert.deepEqual(Object.keys(COMMAND_SUMMARIES).sort(), modules.map((m) => String(m.command).split(' ')[0]).sort());
  for (const m of modules) {
    const name = String(m.command).split(' ')[0];
    assert.deepEqual(COMMAND_SUMMARIES[name], [m.command, m.describe], `src/cli/help.ts, entry ${name}`);
  }
});

test("tt-agent --help lists every flag of the agent's own parser", () => {
  const help = tt(['--help']).stdout;
  const block = help.split(/^Agent options.*$/m)[1] ?? '';
  const sources = fs.readdirSync(path.join(ROOT, 'src/cli')).filter((f) => /^agent.*\.ts$/.test(f));
  const flags = new Set<string>();
  for (const f of sources) {
    for (const m of fs.readFileSync(path.join(ROOT, 'src/cli', f), 'utf8').matchAll(/case '(\w)':/g)) flags.add(`-${m[1]}`);
  }
  assert.ok(flags.size >= 9, `flags found in src/cli/agent*.ts: ${[...flags].join(' ')}`);
  for (const flag of flags) assert.match(block, new RegExp(`^  (.*, )?${flag}\\b`, 'm'), `${flag} in the "Agent options" block`);
});

test('a subcommand --help still comes from yargs, with the command options', () => {
  const r = tt(['pubkey', '--help'], []);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /--fingerprint/);
});

test('a command whose native module is not built says so and how to build it, without a stack trace', () => {
  const r = tt(['list', '/usr/lib/softhsm/libsofthsm2.so'], ['--require', GUARD], { NO_NATIVE: 'addons' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^tt-agent: tt-agent's native parts are not built \(.*pkcs11\.node is missing\)\.\n  Build them: 'npm rebuild -g tt-agent'/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
