// /etc/token-tools.conf as TokenRNG wrote and read it, then the flags over it.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadRngSettings, parseRatio, settingsFromText } from '../../src/rng/config';
import { parseIni } from '../../src/rng/ini';

const SAMPLE = path.resolve(__dirname, '../../contrib/token-tools.conf');

function tempConf(text: string): { file: string; done: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-rng-conf-'));
  const file = path.join(dir, 'token-tools.conf');
  fs.writeFileSync(file, text);
  return { file, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

test('the sample configuration (TokenRNG format) is read as written', () => {
  const s = loadRngSettings({}, SAMPLE);
  assert.equal(s.module, '/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so');
  assert.equal(s.slot, 0);
  assert.equal(s.chunkSize, 128);
  assert.equal(s.entropyRatio, 2);
  assert.equal(s.debug, false);
  assert.equal(s.configFile, SAMPLE);
  assert.deepEqual(s.warnings, []);
});

test('TokenRNG-era variations: ":" delimiter, case, quotes, comments, DEFAULT, indentation', () => {
  const text = [
    '; written by hand',
    '[DEFAULT]',
    'debug: on',
    '',
    '  [Global]   # the only section TokenRNG reads',
    'PKCS11_Library = "/opt/vendor/lib/libvendor pkcs11.so"   ; quoted, with a space',
    '   reader_slot=3',
    "random_chunk_size : '256'",
    'entropy_ratio = 1.5',
    '[Other]',
    'entropy_ratio = 7',
  ].join('\r\n');
  const s = settingsFromText(text, 'x.conf');
  assert.equal(s.module, '/opt/vendor/lib/libvendor pkcs11.so');
  assert.equal(s.slot, 3);
  assert.equal(s.chunkSize, 256);
  assert.equal(s.entropyRatio, 1.5);
  assert.equal(s.debug, true);
});

test('inline comments need whitespace before them; values keep # and ; otherwise', () => {
  const ini = parseIni('[Global]\npkcs11_library = /lib/a#b;c.so # comment\n');
  assert.equal(ini.get('Global')?.get('pkcs11_library')?.value, '/lib/a#b;c.so');
});

test('no file at the default path: defaults; a missing --config file: an error', () => {
  const s = loadRngSettings({}, undefined);
  if (!fs.existsSync('/etc/token-tools.conf')) {
    assert.equal(s.configFile, undefined);
    assert.equal(s.entropyRatio, 2);
    assert.equal(s.chunkSize, 128);
    assert.equal(s.intervalSeconds, 60);
  }
  assert.throws(() => loadRngSettings({}, '/nonexistent/token-tools.conf'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /cannot read the configuration file \/nonexistent\/token-tools.conf: ENOENT/);
    return true;
  });
});

test('flags override the file', () => {
  const c = tempConf('[Global]\npkcs11_library = /a.so\nreader_slot = 1\nrandom_chunk_size = 64\nentropy_ratio = 3\ndebug = yes\n');
  try {
    const s = loadRngSettings({ module: '/b.so', slot: 2, chunkSize: 65536, entropyRatio: 0, intervalSeconds: 5 }, c.file);
    assert.deepEqual(
      [s.module, s.slot, s.chunkSize, s.entropyRatio, s.debug, s.intervalSeconds],
      ['/b.so', 2, 65536, 0, true, 5],
    );
  } finally {
    c.done();
  }
});

test('entropy ratio: 0 allowed, above 4 warns, above 8 refused, junk refused', () => {
  assert.equal(parseRatio('0'), 0);
  assert.equal(loadRngSettings({ entropyRatio: 4 }, SAMPLE).warnings.length, 0);
  assert.match(loadRngSettings({ entropyRatio: 6 }, SAMPLE).warnings[0]!, /crediting 6 bits per byte is unwise/);
  assert.throws(() => parseRatio('9'), /more than 8 bits per byte/);
  assert.throws(() => parseRatio('-1'), ConfigError);
  assert.throws(() => parseRatio('two'), /not a number/);
  assert.throws(() => loadRngSettings({ entropyRatio: 8.5 }, SAMPLE), /more than 8 bits per byte/);
});

test('bad values name the line; unknown keys only warn', () => {
  assert.throws(() => settingsFromText('[Global]\n\nrandom_chunk_size = lots\n', 'f.conf'), /random_chunk_size = 'lots' \(f.conf, line 3\)/);
  assert.throws(() => settingsFromText('[Global]\ndebug = maybe\n', 'f.conf'), /debug = 'maybe' \(f.conf, line 2\) is not yes\/no/);
  assert.throws(() => settingsFromText('[Global]\nthis line is not ini\n', 'f.conf'), /f.conf, line 2: cannot read/);
  const c = tempConf('[Global]\nentropy_ration = 3\n');
  try {
    assert.match(loadRngSettings({}, c.file).warnings[0]!, /unknown key 'entropy_ration' ignored/);
  } finally {
    c.done();
  }
});
