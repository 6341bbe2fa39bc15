// What `npm pack` puts in the package is what every npm install gets: the compiled CLI, the
// manual pages npm links into man's path, the license, and every file the install scripts run.
// (The installs themselves, npm pack / install -g . / a git URL, take minutes each; they are
// run by hand, as the README describes.)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  license: string;
  engines: { node: string };
  man: string[];
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

test('npm pack ships the built CLI, the manual pages, the license and what the install scripts run', () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist/cli/main.js')), 'npm run build first');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
  const scriptFiles = ['preinstall', 'install'].flatMap((s) => [...(pkg.scripts[s] ?? '').matchAll(/\bnode (\S+)/g)].map((m) => m[1]));
  assert.ok(scriptFiles.length >= 2, `the install scripts run node files: ${scriptFiles.join(', ')}`);
  const required = ['LICENSE', 'binding.gyp', 'native/tt_native.c', 'dist/cli/main.js', ...Object.values(pkg.bin), ...pkg.man.map((m) => path.normalize(m)), ...scriptFiles];
  for (const f of scriptFiles) {
    for (const m of fs.readFileSync(path.join(ROOT, f), 'utf8').matchAll(/require\('\.\/([\w.-]+)'\)/g)) required.push(path.join(path.dirname(f), m[1]));
  }
  assert.deepEqual(required.filter((f) => !files.has(f)), [], 'files the package lacks');
  assert.ok(![...files].some((f) => f.startsWith('test/') || f.startsWith('node_modules/')), 'no tests or dependencies in the package');
});

test('package.json: man pages, engines, prepare, license', () => {
  assert.deepEqual(pkg.man.map((m) => path.basename(m)).sort(), ['token-tools.conf.5', 'tt-agent.1']);
  for (const m of pkg.man) assert.ok(fs.existsSync(path.join(ROOT, m)), m);
  assert.equal(pkg.engines.node, '>=20');
  assert.ok(pkg.scripts.prepare, 'a prepare script builds dist/ for npm pack, git URLs and clones');
  assert.equal(pkg.license, 'MIT');
  const license = fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
  assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} tt-agent authors\n/);
});
