// The key-use configuration parser: the settings a good file gives, the first-match rules of
// Key and Host blocks, and a file:line message for each bad line.
import test from 'node:test';
import assert from 'node:assert/strict';
import { hostKeySelection, keyPolicy, parseUseConfig, UseConfigError } from '../../src/agent/use-config';
import { addKnownHostNames } from '../../src/protocol/known-host-names';

const FP_A = `SHA256:${'A'.repeat(43)}`;
const FP_B = `SHA256:${'B'.repeat(43)}`;

const GOOD = `# comments and blank lines are fine

notify yes
notify-interval=5
known-hosts ~/work/known_hosts /etc/ssh/ssh_known_hosts

Key ${FP_A} "work card*"
  confirm forwarded,sshsig
  allow-sshsig git file
  remember yes
Key *
  confirm always   # only keys no block above set confirm for
  allow-sshsig none

Host *.example.com !bastion.example.com
  keys "work card*"
Host ${FP_B}
  keys ${FP_A}
`;

test('a good file: globals, Key and Host blocks', () => {
  const c = parseUseConfig(GOOD, 'cfg');
  assert.equal(c.notify, true);
  assert.equal(c.notifyInterval, 5);
  assert.deepEqual(c.knownHosts, ['~/work/known_hosts', '/etc/ssh/ssh_known_hosts']);
  assert.equal(c.keyRules.length, 2);
  assert.deepEqual(c.keyRules[0].selectors, [FP_A, 'work card*']);
  assert.equal(c.hostRules[0].line, 15);
});

test('keyPolicy: for each setting the first Key block that picks the key', () => {
  const c = parseUseConfig(GOOD, 'cfg');
  assert.deepEqual(keyPolicy(c, { fingerprint: FP_A, comment: 'x' }), { confirm: ['forwarded', 'sshsig'], allowSshsig: ['git', 'file'], remember: true });
  assert.deepEqual(keyPolicy(c, { fingerprint: FP_B, comment: 'work card 2' }).confirm, ['forwarded', 'sshsig']);
  assert.deepEqual(keyPolicy(c, { fingerprint: FP_B, comment: 'laptop' }), { confirm: ['always'], allowSshsig: [], remember: false });
  assert.deepEqual(keyPolicy(parseUseConfig('', 'cfg'), { fingerprint: FP_B, comment: '' }), { confirm: [], allowSshsig: undefined, remember: false });
  assert.deepEqual(keyPolicy(parseUseConfig('Key *\n confirm never\n', 'cfg'), { fingerprint: FP_B, comment: '' }).confirm, []);
});

test('hostKeySelection: names (and the host of [host]:port), negation, fingerprints', () => {
  const c = parseUseConfig(GOOD, 'cfg');
  const sel = (names: string[], fingerprint = `SHA256:${'C'.repeat(43)}`) => hostKeySelection(c, { names, fingerprint })?.keys;
  assert.deepEqual(sel(['git.example.com']), ['work card*']);
  assert.deepEqual(sel(['[git.example.com]:2222']), ['work card*']);
  assert.equal(sel(['bastion.example.com']), undefined);
  assert.equal(sel(['example.org']), undefined);
  assert.deepEqual(sel([], FP_B), [FP_A]);
});

test('known_hosts names: plain names only, hashed and wildcard entries give none', () => {
  const blob = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl', 'base64').toString('base64');
  const names = addKnownHostNames(
    [
      `Git.Example.com,10.0.0.1 ssh-ed25519 ${blob}`,
      `|1|c2FsdHNhbHRzYWx0c2FsdHNhbHQ=|aGFzaGhhc2hoYXNoaGFzaGhhc2g= ssh-ed25519 ${blob}`,
      `*.example.com ssh-ed25519 ${blob}`,
      `@revoked evil.example.com ssh-ed25519 ${blob}`,
      `[h]:2222 ssh-ed25519 ${blob}`,
    ].join('\n'),
  );
  assert.deepEqual(names.get(blob), ['git.example.com', '10.0.0.1', '[h]:2222']);
});

test('every bad line is named with file and line', () => {
  const text = [
    'notify maybe',
    'confirm always',
    'Key',
    'Key x',
    '  confirm sometimes',
    '  confirm never,forwarded',
    '  remember perhaps',
    '  keys x',
    '  notify yes',
    'Host h',
    '  allow-sshsig git',
    '  keys "unterminated',
    'notify-interval -1',
    'bogus',
  ].join('\n');
  let err: unknown;
  try {
    parseUseConfig(text, '/home/u/.config/tt-agent/config');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof UseConfigError);
  const lines = err.problems.map((p) => /^\/home\/u\/\.config\/tt-agent\/config:(\d+): /.exec(p)?.[1]);
  assert.deepEqual(lines, ['1', '2', '3', '5', '6', '7', '8', '9', '11', '12', '13', '14']);
  assert.match(err.problems[1], /confirm belongs in a Key block/);
  assert.match(err.problems[6], /keys belongs in a Host block/);
});
