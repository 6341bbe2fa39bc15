// Peer text on its way to a log or a terminal: shown, never obeyed.
import assert from 'node:assert/strict';
import test from 'node:test';
import { escapeLogText } from '../../src/protocol/log-text';

test('C0, DEL, C1 and bidirectional controls are shown escaped; other text is left alone', () => {
  assert.equal(escapeLogText('a\nb\r\x1b[2J\x7f'), 'a\\x0ab\\x0d\\x1b[2J\\x7f');
  // U+009B is CSI on terminals that take C1 controls; U+202E turns the rest of a line around.
  assert.equal(escapeLogText('x\u009b31my\u0085z'), 'x\\u009b31my\\u0085z');
  assert.equal(escapeLogText('file\u202egnp.exe \u2066iso\u2069'), 'file\\u202egnp.exe \\u2066iso\\u2069');
  assert.equal(escapeLogText('Clé PIV — ü 日本 🔑 \u00a0'), 'Clé PIV — ü 日本 🔑 \u00a0');
});
