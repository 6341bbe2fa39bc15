// One way to tell a user what to do after an error (src/hint.ts): the hint on the error. These
// read the source for the ways that were tried before and dropped, so none comes back quietly:
// a registry of explainers in the CLI, decisions on an error's `name` string, a hint guessed
// from the words of a reason, and an error class with a hint that does not say it is Hinted.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';

const ROOT = path.resolve(__dirname, '../..');

function sources(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(rel));
    else if (entry.name.endsWith('.ts')) out.push({ file: rel, text: fs.readFileSync(path.join(ROOT, rel), 'utf8') });
  }
  return out;
}

/** `file:line: text` of every line matching `re`. */
function hits(files: { file: string; text: string }[], re: RegExp): string[] {
  return files.flatMap(({ file, text }) =>
    text.split('\n').flatMap((line, i) => (re.test(line) && !/^\s*(\/\/|\*)/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
  );
}

const SRC = sources('src');
const CLI = SRC.filter((f) => f.file.startsWith('src/cli/'));

test('the source tree is read (the checks below see real files)', () => {
  assert.ok(SRC.length > 100, `only ${SRC.length} files under src`);
  assert.ok(CLI.some((f) => f.file === 'src/cli/report.ts'));
  assert.ok(SRC.some((f) => f.file === 'src/hint.ts'));
});

test('no registry of explainers: no layer registers a translator of its errors with the CLI', () => {
  assert.deepEqual(hits(SRC, /\bregister\w*Explainer\b|\bExplainer\b|\bexplainers\b/), []);
  assert.ok(!fs.existsSync(path.join(ROOT, 'src/cli/explain-token.ts')), 'src/cli/explain-token.ts is back');
});

test("report.ts imports nothing but the hint and UserError: no table of error types, no native code for --help", () => {
  const report = CLI.find((f) => f.file === 'src/cli/report.ts')!.text;
  const imports = [...report.matchAll(/\bfrom '([^']+)'|\bimport\('([^']+)'\)|\brequire\('([^']+)'\)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
  assert.deepEqual(imports.sort(), ['../hint', './user-error']);
});

test("no decision on an error's name string (instanceof, or the error's own hint)", () => {
  // The binding's own Pkcs11Error has no class to test against: the one place a name is read.
  const named = /\bname\s*[!=]==?\s*['"`]\w*Error['"`]|['"`]\w*Error['"`]\s*[!=]==?\s*\w+\.name\b/;
  assert.deepEqual(hits(SRC.filter((f) => f.file !== 'src/pkcs11/errors.ts'), named), []);
});

test('the CLI never guesses a hint from the words of a reason or an error message', () => {
  assert.deepEqual(hits(CLI, /\bhintForReason\b|\.test\(\s*[\w.?]*(reason|message)\b|\breason\??\.(startsWith|endsWith|includes|match)\(/), []);
});

test('every error class with a hint says it is Hinted (src/hint.ts), so hintOf finds it by that one name', () => {
  const classes = SRC.flatMap(({ file, text }) =>
    [...text.matchAll(/^export class (\w+)([^{\n]*)\{\n([\s\S]*?)^\}/gm)].map((m) => ({ file, name: m[1], head: m[2], body: m[3] })),
  );
  const withHint = classes.filter((c) => /^\s*(override )?readonly hint\b|^\s*hint\??:|\bthis\.hint = /m.test(c.body));
  assert.ok(withHint.length >= 15, `found only ${withHint.length}: ${withHint.map((c) => c.name).join(' ')}`);
  const unmarked = withHint.filter((c) => !/\bimplements\b.*\bHinted\b/.test(c.head)).map((c) => `${c.file}: ${c.name}`);
  assert.deepEqual(unmarked, []);
});
