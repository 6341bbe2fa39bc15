// What a new user reads first: --help examples are whole commands (never broken in the middle,
// so they can be copied), `list --help` tells of the agent-keys mode, the README's layout names
// the addon's real place, and the demo writes plain text into a pipe.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { COMMAND_NAMES } from '../../src/cli/commands';
import { ROOT, runHelp } from './help-options';

test('every --help example is one whole command line, with what it does under it', async () => {
  let seen = 0;
  for (const name of COMMAND_NAMES) {
    const help = await runHelp([name]);
    const lines = help.split('\n');
    const start = lines.findIndex((l) => /^Examples:\s*$/.test(l));
    if (start < 0) continue;
    for (const line of lines.slice(start + 1)) {
      if (line.trim() === '') break;
      if (line.startsWith('  tt-agent ')) {
        seen++;
        // a quote left open means the command went on on the next line
        assert.equal((line.match(/'/g) ?? []).length % 2, 0, `${name}: example broken in the middle: ${line}`);
        assert.doesNotMatch(line, /\s{3,}\S/, `${name}: description set beside the command, where yargs wraps it: ${line}`);
      } else {
        assert.match(line, /^ {6}\S/, `${name}: a line that is neither a command nor its description: ${JSON.stringify(line)}`);
      }
    }
  }
  assert.ok(seen >= 8, `examples found: ${seen}`);
});

test("list --help tells that with no module it lists the agent's keys", async () => {
  const help = await runHelp(['list']);
  assert.match(help, /With no MODULE and an agent at \$SSH_AUTH_SOCK: the agent's keys \(as ssh-add -l\)/);
  assert.match(help, /^ {2}tt-agent list\n {6}the running agent's keys/m);
});

test("the README's layout puts the C addon in native/, as the tree has it", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const layout = /### Layout\n[\s\S]*?```\n([\s\S]*?)```/.exec(readme)![1];
  for (const line of layout.split('\n').filter((l) => l.trim())) {
    const dir = line.split(/\s+/)[0];
    if (dir.endsWith('/')) assert.ok(fs.existsSync(path.join(ROOT, dir)), `README layout names ${dir}, which does not exist`);
  }
  assert.match(layout, /^native\/\s+.*N-API addon in C/m);
  assert.ok(fs.existsSync(path.join(ROOT, 'native/tt_native.c')));
});

test('the demo writes no terminal escape codes into a pipe', { timeout: 120_000 }, async () => {
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.SSH_AUTH_SOCK;
    execFile('bash', [path.join(ROOT, 'scripts/demo.sh')], { env, timeout: 110_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
    );
  });
  assert.equal(out.code, 0, out.text);
  assert.match(out.text.split('\n')[0], /^tt-agent demo: a throw-away SoftHSM token in /);
  assert.ok(!out.text.includes('\x1b'), `escape codes in piped output: ${JSON.stringify(out.text.slice(0, 200))}`);
  assert.match(out.text, /^\$ node \S+bin\/tt-agent keygen /m);
});
