import test from 'node:test';
import assert from 'node:assert/strict';
import { formatPkcs11Uri, parsePkcs11Uri, UriError } from '../../src/pkcs11';

test('path and query attributes of RFC 7512, percent-decoded', () => {
  const u = parsePkcs11Uri(
    'pkcs11:token=My%20Token;manufacturer=ACME;serial=0042;model=PIV;id=%01%a2;object=Key%20One;type=private' +
      '?module-path=/usr/lib/x.so&pin-source=file:/run/pin',
  );
  assert.equal(u.token, 'My Token');
  assert.equal(u.manufacturer, 'ACME');
  assert.equal(u.serial, '0042');
  assert.equal(u.model, 'PIV');
  assert.deepEqual(u.id, Buffer.from([0x01, 0xa2]));
  assert.equal(u.object, 'Key One');
  assert.equal(u.type, 'private');
  assert.equal(u.modulePath, '/usr/lib/x.so');
  assert.equal(u.pinSource, 'file:/run/pin');
});

test('module-name, pin-value, slot-id, vendor x- attributes and an empty path', () => {
  const u = parsePkcs11Uri('pkcs11:slot-id=3;x-vendor=1?module-name=opensc-pkcs11&pin-value=1234');
  assert.equal(u.slotId, 3);
  assert.equal(u.moduleName, 'opensc-pkcs11');
  assert.equal(u.pinValue, '1234');
  assert.deepEqual(Object.keys(parsePkcs11Uri('pkcs11:')), ['text']);
});

test('malformed URIs name the offending part', () => {
  const bad: [string, string, RegExp][] = [
    ['pkcs11:id=%4', 'id=%4', /bad percent-escape/],
    ['pkcs11:token=a;token=b', 'token=b', /given twice/],
    ['pkcs11:colour=red', 'colour=red', /unknown attribute 'colour'/],
    ['pkcs11:module-path=/x', 'module-path=/x', /belongs after '\?'/],
    ['pkcs11:?token=a', 'token=a', /belongs before '\?'/],
    ['pkcs11:type=secret', 'type=secret', /type must be one of/],
    ['pkcs11:token', 'token', /expected 'name=value'/],
    ['pkcs11:slot-id=x', 'slot-id=x', /decimal/],
    ['pkcs11:?pin-value=1&pin-source=/f', 'pin-value', /either/],
    ['http://x', 'http://x', /starts with 'pkcs11:'/],
  ];
  for (const [text, part, why] of bad) {
    assert.throws(
      () => parsePkcs11Uri(text),
      (e: unknown) => e instanceof UriError && e.part === part && why.test(e.detail),
      text,
    );
  }
});

test('formatPkcs11Uri round-trips', () => {
  const text = formatPkcs11Uri({ token: 'a b;c', id: Buffer.from([0, 255]), object: 'k', type: 'cert' });
  assert.equal(text, 'pkcs11:token=a%20b%3bc;object=k;id=%00%ff;type=cert');
  const u = parsePkcs11Uri(text);
  assert.equal(u.token, 'a b;c');
  assert.deepEqual(u.id, Buffer.from([0, 255]));
});
