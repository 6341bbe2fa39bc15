// known_hosts lookup for `tt-agent add -h`, judged by OpenSSH itself: `ssh-keygen -F NAME`
// reports which lines match a name (with CA / REVOKED markers), and `ssh-keygen -H` writes the
// hashed form. Our lookup must pick exactly the lines OpenSSH picks, in both files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { buildDestinationConstraint } from '../../src/cli/dest-constraints';
import { UserError } from '../../src/cli/user-error';
import { findHostKeys, parseKnownHostsLine } from '../../src/cli/known-hosts';
import { globMatches } from '../../src/protocol/glob';

function tempDir(t: test.TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-kh-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh public key as `type base64`. */
function newKey(dir: string, name: string, type: string): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  return fs.readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
}

/** What ssh-keygen -F says matches: "LINE MARKER" per hit. */
function opensshMatches(name: string, file: string): string[] {
  let out = '';
  try {
    out = execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' });
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? ''; // exit 1: not found
  }
  return [...out.matchAll(/^# Host .* found: line (\d+) ?(CA|REVOKED)?$/gm)]
    .map((m) => `${m[1]} ${m[2] === 'CA' ? 'cert-authority' : m[2] === 'REVOKED' ? 'revoked' : 'none'}`)
    .sort();
}

function ourMatches(name: string, file: string): string[] {
  return findHostKeys(name, [file]).keys.map((k) => `${k.line} ${k.marker}`).sort();
}

const NAMES = [
  'a.example', 'A.Example', 'b.example', 'x.wild.example', 'bad.wild.example', 'z.example',
  '127.0.0.1', '[127.0.0.1]:2222', '[127.0.0.1]:2223', 'h1.example', 'h12.example', 'nothing.here',
];

test('plain and hashed known_hosts: the same lines match as for ssh-keygen -F', (t) => {
  const dir = tempDir(t);
  const ed = newKey(dir, 'ed', 'ed25519');
  const ec = newKey(dir, 'ec', 'ecdsa');
  const ca = newKey(dir, 'ca', 'ed25519');
  const good = [
    '# a comment line, then a blank one',
    '',
    `a.example,b.example ${ed} a comment`,
    `  *.wild.example,!bad.wild.example\t${ec}`,
    `[127.0.0.1]:2222 ${ed}`,
    `127.0.0.1 ${ec}`,
    `h?.example ${ec}`,
    `@cert-authority *.example ${ca}`,
    `@revoked a.example ${ec}`,
  ];
  const bad = [
    `@unknown-marker a.example ${ec}`,
    `c.other ssh-ed25519 AAAAnot-base64!`,
    `c.other ssh-rsa ${ed.split(' ')[1]}`, // blob type differs from the named type
    `c.other 2048 65537 1234567`, // SSH-1 style line
  ];
  const file = path.join(dir, 'known_hosts');
  fs.writeFileSync(file, [...good, ...bad, ''].join('\n'));
  for (const name of NAMES) assert.deepEqual(ourMatches(name, file), opensshMatches(name, file), `plain file, ${name}`);
  // ssh-keygen -F does not read the key field; ssh-add's lookup skips lines whose key does not
  // parse (add-dest.test.ts has real ssh-add refusing c.other for that reason).
  assert.deepEqual(ourMatches('c.other', file), []);

  // ssh-keygen -H hashes every plain name (one line per name) and leaves patterns alone.
  // (ssh-keygen -H refuses a file with lines it cannot read, so only the good ones.)
  const hashed = path.join(dir, 'known_hosts_hashed');
  fs.writeFileSync(hashed, [...good, ''].join('\n'));
  execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
  assert.match(fs.readFileSync(hashed, 'utf8'), /^\|1\|/m);
  for (const name of NAMES) assert.deepEqual(ourMatches(name, hashed), opensshMatches(name, hashed), `hashed file, ${name}`);
  assert.ok(ourMatches('a.example', hashed).length >= 2, 'the hashed a.example line is found');
});

test('entries carry the key blob and marker; @revoked keys never become destination keys', (t) => {
  const dir = tempDir(t);
  const ed = newKey(dir, 'ed', 'ed25519');
  const ca = newKey(dir, 'ca', 'ecdsa');
  const entry = parseKnownHostsLine(`@cert-authority *.example ${ca} note`);
  assert.equal(entry?.marker, 'cert-authority');
  assert.equal(entry?.hosts, '*.example');
  assert.deepEqual(entry?.keyBlob, Buffer.from(ca.split(' ')[1], 'base64'));

  const file = path.join(dir, 'kh');
  fs.writeFileSync(file, `a.example ${ed}\n@revoked a.example ${ed}\n@cert-authority *.example ${ca}\n`);
  const built = buildDestinationConstraint(['a.example'], [file]);
  assert.ok(built.constraint.kind === 'restrict-destination');
  assert.deepEqual(built.constraint.constraints[0].to.keys, [
    { keyBlob: Buffer.from(ed.split(' ')[1], 'base64'), isCa: false },
    { keyBlob: Buffer.from(ca.split(' ')[1], 'base64'), isCa: true },
  ]);
  // Only a CA matches: accepted (as ssh-add does), with a note that plain host keys are what counts here.
  const onlyCa = buildDestinationConstraint(['q.example'], [file]);
  assert.equal(onlyCa.notes.length, 1);
});

test('bad destinations: syntax errors exit 2, an unknown host names the files and points at a fix', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'kh');
  fs.writeFileSync(file, `[10.0.0.9]:2200 ${newKey(dir, 'ed', 'ed25519')}\n`);
  const missing = path.join(dir, 'absent');
  const fail = (dests: string[]): UserError => {
    try {
      buildDestinationConstraint(dests, [file, missing]);
    } catch (err) {
      assert.ok(err instanceof UserError);
      return err;
    }
    assert.fail(`${dests.join(' ')} was accepted`);
  };
  assert.equal(fail(['']).exitCode, 2);
  assert.equal(fail(['@']).exitCode, 2);
  assert.match(fail(['bob@a>c']).message, /user name can only be given for the host after '>'/);
  const unknown = fail(['nowhere.example']);
  assert.equal(unknown.exitCode, 1);
  assert.equal(unknown.message, `no host keys found for destination "nowhere.example" in ${file}, ${missing} (missing)`);
  assert.match(unknown.hint ?? '', /ssh-keyscan nowhere\.example/);
  assert.match(unknown.hint ?? '', /-H/);
  // Known only with a port: the hint gives the spelling that works.
  assert.match(fail(['10.0.0.9']).hint ?? '', /-h '\[10\.0\.0\.9\]:2200'/);
  // `user@` alone is a user on any host: no lookup, no keys.
  const userOnly = buildDestinationConstraint(['bob@'], [missing]).constraint;
  assert.ok(userOnly.kind === 'restrict-destination');
  assert.deepEqual(userOnly.constraints[0].to, { user: 'bob', hostname: '', keys: [] });
});

test('glob patterns: * and ? as OpenSSH match_pattern', () => {
  assert.ok(globMatches('abc', 'a*'));
  assert.ok(globMatches('abc', '*c'));
  assert.ok(globMatches('abc', 'a?c'));
  assert.ok(globMatches('a.b.c', '*.*'));
  assert.ok(globMatches('', '*'));
  assert.ok(!globMatches('abc', 'a?'));
  assert.ok(!globMatches('abc', 'b*'));
  assert.ok(!globMatches('[h]:22', 'h'));
});
