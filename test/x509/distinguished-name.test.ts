import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateInputError, parseDistinguishedName } from '../../src/x509';

/** How openssl prints a DER Name, RFC 2253 style (most specific first), as an independent reader. */
function opensslRfc2253(input: string): string {
  const der = Buffer.from(AsnConvert.serialize(parseDistinguishedName(input)));
  // Wrap the Name as the subject of a minimal CSR-less structure: openssl asn1parse shows each string.
  return execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: der, encoding: 'utf8' });
}

test('RFC 4514 order: most specific first in the text, last in the encoding', () => {
  const out = opensslRfc2253('CN=alice,O=Example,C=DE');
  const order = [...out.matchAll(/:(countryName|organizationName|commonName)\s/g)].map((m) => m[1]);
  assert.deepEqual(order, ['countryName', 'organizationName', 'commonName']);
  assert.match(out, /PRINTABLESTRING\s+:DE/);
  assert.match(out, /UTF8STRING\s+:alice/);
});

test('openssl -subj order is kept as written', () => {
  const out = opensslRfc2253('/C=DE/O=Example/CN=alice');
  const order = [...out.matchAll(/:(countryName|organizationName|commonName)\s/g)].map((m) => m[1]);
  assert.deepEqual(order, ['countryName', 'organizationName', 'commonName']);
});

test('escapes: \\, \\+ \\\\ \\"  hex pairs, escaped trailing space, spaces after commas', () => {
  const out = opensslRfc2253('CN=Doe\\, John \\+ co\\\\ \\"x\\",  O=M\\C3\\BCller\\ ');
  assert.match(out, /UTF8STRING\s+:Doe, John \+ co\\ "x"/);
  // "Müller " as UTF-8 bytes (openssl asn1parse prints raw bytes).
  const der = Buffer.from(AsnConvert.serialize(parseDistinguishedName('O=M\\C3\\BCller\\ ')));
  assert.ok(der.includes(Buffer.from('Müller ', 'utf8')));
});

test('multi-valued RDN with +, dotted OID type and #hex value', () => {
  const out = opensslRfc2253('CN=a+UID=b,2.5.4.10=#0C03584F52');
  assert.match(out, /SET/);
  assert.match(out, /UTF8STRING\s+:XOR/);
  assert.match(out, /userId|UID/);
});

const MALFORMED: [string, RegExp][] = [
  ['', /the subject is empty/],
  ['alice', /has no '='/],
  ['CN=alice,,O=x', /empty element/],
  ['CN=', /CN has an empty value/],
  ['XX=1', /unknown attribute type "XX"/],
  ['CN=a;b', /unescaped ';'/],
  ['CN=a\\q', /invalid escape/],
  ['CN=a\\', /lone backslash/],
  ['C=Germany', /two-letter country code/],
  ['CN=\\FF\\FE', /not valid UTF-8/],
  ['CN=#zz', /malformed #hex/],
  ['CN=#0C05aa', /not one BER element/],
  ['emailAddress=jö@example.com', /only ASCII/],
];
for (const [input, why] of MALFORMED) {
  test(`malformed subject ${JSON.stringify(input)} is refused with a reason`, () => {
    assert.throws(
      () => parseDistinguishedName(input),
      (e: unknown) =>
        e instanceof CertificateInputError && e.field === 'subject' && why.test(e.message) && e.message.startsWith('malformed subject'),
    );
  });
}
