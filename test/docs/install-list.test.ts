// scripts/install.sh must install every Debian package the tests need: CI runs it on a fresh
// machine, where a package installed here by hand is missing. This test finds the programs and
// files the tests name (string literals that are commands on PATH or absolute paths), asks dpkg
// which package owns each, and checks that package is in install.sh's list or a dependency of
// one there. The emulated card kit's own package line is checked the same way.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { VCARD_KIT_DIR, vcardMissingPackages } from '../helpers/vcard';

const ROOT = path.resolve(__dirname, '../..');
const hasDpkg = fs.existsSync('/usr/bin/dpkg-query');

/** Literals that look like commands but are not run as programs by any test. */
const NOT_RUN: Record<string, string> = {
  '/usr/bin/fish': "a value of $SHELL: the starter test checks the fish syntax it prints, it does not run fish",
  '/bin/tcsh': 'a value of $SHELL, as above',
  node: 'Node itself: installed before install.sh can run',
  npm: "Node's package manager, installed with Node",
  file: "ssh-keygen -Y's namespace and a file name",
  ed: 'a key file name',
  open: 'a file name in a test (a socket path), not the program',
};

function listed(): string[] {
  return execFileSync('bash', [path.join(ROOT, 'scripts/install.sh'), '--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/** Every installed package's name → what it depends on (all alternatives) and what it provides. */
function installedGraph(): { deps: Map<string, string[]>; providers: Map<string, string[]>; essential: Set<string> } {
  const out = execFileSync('dpkg-query', ['-W', '-f=${Package}\t${Essential}\t${Priority}\t${Pre-Depends}, ${Depends}\t${Provides}\n'], { encoding: 'utf8' });
  const deps = new Map<string, string[]>();
  const providers = new Map<string, string[]>();
  const essential = new Set<string>();
  const names = (s: string) => s.split(/[,|]/).map((d) => d.trim().split(/[\s:(]/)[0]).filter(Boolean);
  for (const line of out.split('\n').filter(Boolean)) {
    const [pkg, ess, prio, dep, prov] = line.split('\t');
    deps.set(pkg, names(dep));
    if (ess === 'yes' || prio === 'required') essential.add(pkg);
    for (const p of names(prov ?? '')) providers.set(p, [...(providers.get(p) ?? []), pkg]);
  }
  return { deps, providers, essential };
}

function closure(roots: string[], g: ReturnType<typeof installedGraph>): Set<string> {
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const p = todo.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    todo.push(...(g.deps.get(p) ?? []), ...(g.providers.get(p) ?? []));
  }
  return seen;
}

function testSources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** The installed file a literal names: an absolute path, or a command found in the system bin dirs. */
function resolveLiteral(lit: string): string | undefined {
  if (lit.startsWith('/')) return fs.existsSync(lit) ? lit : undefined;
  for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) {
    const p = path.join(dir, lit);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** dpkg's owner of a file, trying the path as named and its real path (usr-merge, alternatives). */
function ownerOf(file: string): string | undefined {
  const real = fs.realpathSync(file);
  const spellings = [file, real].flatMap((p) => [p, p.replace(/^\/usr\//, '/'), p.startsWith('/usr/') ? p : `/usr${p}`]);
  for (const p of new Set(spellings)) {
    try {
      const out = execFileSync('dpkg-query', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      // "pkg[, pkg2]: /path"; dpkg-divert adds "diversion by X from: ..." lines.
      const line = out.split('\n').find((l) => l && !l.startsWith('diversion by '));
      if (line) return line.split(':')[0].split(',')[0].trim();
    } catch {
      // not this spelling
    }
  }
  return undefined;
}

test('every program and file the tests use comes from a package scripts/install.sh installs', { skip: !hasDpkg && 'not a Debian system (no dpkg-query)' }, (t) => {
  const g = installedGraph();
  const covered = closure(listed(), g);
  const literals = new Map<string, string>(); // literal → first file naming it
  for (const file of testSources(path.join(ROOT, 'test'))) {
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/['"`](\/(?:usr|bin|sbin|lib)[\w./+-]*|[a-z][\w.+-]*)['"`]/g)) {
      if (!literals.has(m[1])) literals.set(m[1], path.relative(ROOT, file));
    }
  }
  const uncovered: string[] = [];
  const unowned: string[] = [];
  let checked = 0;
  for (const [lit, file] of literals) {
    if (NOT_RUN[lit]) continue;
    const resolved = resolveLiteral(lit);
    if (!resolved || fs.statSync(resolved).isDirectory()) continue;
    const pkg = ownerOf(resolved);
    if (!pkg) {
      unowned.push(`${lit} (${file})`);
      continue;
    }
    checked++;
    if (!g.essential.has(pkg) && !covered.has(pkg)) uncovered.push(`${lit} (${file}) is in package ${pkg}`);
  }
  if (unowned.length > 0) t.diagnostic(`no package owns: ${unowned.join(', ')}`);
  assert.ok(checked >= 20, `found only ${checked} programs and files in the tests: the scan is broken`);
  assert.deepEqual(uncovered, [], 'name these packages in scripts/install.sh');
});

test("the emulated card kit's packages are in scripts/install.sh", { skip: !fs.existsSync(path.join(VCARD_KIT_DIR, 'vcard')) && `no kit at ${VCARD_KIT_DIR}` }, () => {
  const kit = fs.readFileSync(path.join(VCARD_KIT_DIR, 'vcard'), 'utf8');
  const pkgs = /^PKGS="([^"]+)"/m.exec(kit)?.[1].split(/\s+/);
  assert.ok(pkgs && pkgs.length > 0, 'the kit names its packages on a PKGS= line');
  const list = new Set(listed());
  assert.deepEqual(pkgs.filter((p) => !list.has(p)), [], 'name these packages in scripts/install.sh');
  if (hasDpkg) assert.deepEqual(vcardMissingPackages(), [], 'scripts/install.sh has run, so the card tests find every package');
});

test('no test opts out of the card kit installing its packages', () => {
  // The kit's opt-out variable, spelled in two parts so that this file does not name it whole.
  const OPT_OUT = ['VCARD', 'NO', 'INSTALL'].join('_');
  const optOut = testSources(path.join(ROOT, 'test')).filter((f) => fs.readFileSync(f, 'utf8').includes(OPT_OUT));
  assert.deepEqual(optOut.map((f) => path.relative(ROOT, f)), []);
});
