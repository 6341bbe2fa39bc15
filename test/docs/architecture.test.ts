// docs/architecture.md against the tree: every file and folder it names exists, and where it
// names a function next to its file (`src/x.ts` (`fn`)), the file defines that function. A
// rename or a split that forgets the architecture page fails here.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';

const ROOT = path.resolve(__dirname, '../..');
const DOC = fs.readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');

/** Repository paths the page names: `src/…`, `test/…`, `native/…`, `bin/…`, `man/…`, `contrib/…`, `docs/…`. */
function namedPaths(): string[] {
  const inBackticks = [...DOC.matchAll(/`((?:src|test|native|bin|man|contrib|docs)\/[\w./-]+)`/g)].map((m) => m[1]);
  // The layout block: the first word of each line that names a folder or file of the tree.
  const layout = /## Layout\s+```\n([\s\S]*?)```/.exec(DOC);
  assert.ok(layout, 'the page has a Layout block');
  const layoutPaths = layout[1]
    .split('\n')
    .flatMap((line) => line.split(/\s{2,}/)[0].split(/,\s*/))
    .map((p) => p.trim())
    .filter((p) => /^[\w-]+\/([\w.-]+\/?)*$/.test(p));
  return [...new Set([...inBackticks, ...layoutPaths])];
}

test('every file and folder docs/architecture.md names exists', () => {
  const paths = namedPaths();
  assert.ok(paths.length >= 20, `found only ${paths.length} paths: ${paths.join(' ')}`);
  const missing = paths.filter((p) => !fs.existsSync(path.join(ROOT, p)));
  assert.deepEqual(missing, [], 'named in docs/architecture.md but not in the tree');
});

test('every function docs/architecture.md places in a file is defined there', () => {
  const pairs = [...DOC.matchAll(/`((?:src|test)\/[\w./-]+\.ts)` \(`([\w.]+)`\)/g)].map((m) => [m[1], m[2]] as const);
  assert.ok(pairs.length >= 2, 'the sign path names its functions');
  for (const [file, name] of pairs) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const [owner, method] = name.includes('.') ? name.split('.') : [undefined, name];
    if (owner) assert.match(text, new RegExp(`\\bclass ${owner}\\b`), `${file} defines class ${owner}`);
    assert.match(text, new RegExp(`^\\s*(export )?(async )?(function )?${method}(<[^>]*>)?\\(`, 'm'), `${file} defines ${name}`);
  }
});
