/**
 * A client certificate's RFC 8705 thumbprint, from every form it comes in, and the header a
 * trusted proxy forwards it in: each shape a real proxy sends is read, anything else is refused
 * (`null`), and nothing a header can hold makes the parser throw.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { forwardedCertificate } from '../../../src/core/request/certificate-header.js';
import {
  certificateThumbprint,
  derOfPem,
  isDerSequence,
  thumbprintOf,
} from '../../../src/core/request/client-certificate.js';
import { createTestCa, type TestCertificate } from '../../support/certificates.js';

let alice: TestCertificate;
let bob: TestCertificate;
let ca: TestCertificate;

beforeAll(async () => {
  const authority = await createTestCa();
  ca = authority;
  [alice, bob] = await Promise.all([authority.issueClient('alice'), authority.issueClient('bob')]);
});

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

describe('certificateThumbprint', () => {
  it('is base64url SHA-256 of the DER, whatever form the certificate comes in', () => {
    const x509 = new X509Certificate(alice.pem);
    expect(certificateThumbprint(alice.der)).toBe(alice.thumbprint);
    expect(certificateThumbprint(Buffer.from(alice.der))).toBe(alice.thumbprint);
    expect(certificateThumbprint(alice.pem)).toBe(alice.thumbprint);
    expect(certificateThumbprint(x509)).toBe(alice.thumbprint);
    expect(certificateThumbprint({ raw: alice.der })).toBe(alice.thumbprint);
    expect(certificateThumbprint(bob.pem)).not.toBe(alice.thumbprint);
  });

  it('hashes the first certificate of a PEM chain (the client’s own, as TLS sends it)', () => {
    expect(certificateThumbprint(`${alice.pem}\n${ca.pem}`)).toBe(alice.thumbprint);
  });

  it('accepts PEM with CRLF line ends and surrounding whitespace', () => {
    expect(certificateThumbprint(`\r\n ${alice.pem.replace(/\n/g, '\r\n')}\r\n`)).toBe(alice.thumbprint);
  });

  it.each([
    ['an empty string', ''],
    [
      'a PEM private key',
      '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----',
    ],
    ['a PEM without its end line', '-----BEGIN CERTIFICATE-----\nMIIB'],
    ['text after the PEM', 'PEM_PLACEHOLDER trailing text'],
    [
      'a block of non-DER bytes',
      `-----BEGIN CERTIFICATE-----\n${base64(new TextEncoder().encode('hello'))}\n-----END CERTIFICATE-----`,
    ],
    ['base64 of the DER without PEM lines', 'BASE64_PLACEHOLDER'],
  ])('refuses %s: a TypeError, and null from thumbprintOf', (_name, input) => {
    const text = input.replace('PEM_PLACEHOLDER', alice.pem).replace('BASE64_PLACEHOLDER', base64(alice.der));
    expect(() => certificateThumbprint(text)).toThrow(TypeError);
    expect(thumbprintOf(text)).toBeNull();
  });

  it('refuses bytes that are not one DER SEQUENCE, and objects without DER bytes', () => {
    const truncated = alice.der.slice(0, -1);
    const padded = new Uint8Array([...alice.der, 0]);
    const pemBytes = new TextEncoder().encode(alice.pem);
    for (const input of [truncated, padded, pemBytes, new Uint8Array(), { raw: 'MIIB' }, {}])
      expect(thumbprintOf(input as never)).toBeNull();
  });
});

describe('isDerSequence', () => {
  it.each([
    ['short form', [0x30, 0x01, 0x00], true],
    ['long form', [0x30, 0x81, 0x80, ...new Array(0x80).fill(0)], true],
    ['long form that should be short (not DER)', [0x30, 0x81, 0x01, 0x00], false],
    ['a leading zero length octet (not DER)', [0x30, 0x82, 0x00, 0x80, ...new Array(0x80).fill(0)], false],
    ['indefinite length', [0x30, 0x80, 0x00, 0x00], false],
    ['length past the end', [0x30, 0x05, 0x00], false],
    ['another tag', [0x31, 0x01, 0x00], false],
    ['five length octets', [0x30, 0x85, 0, 0, 0, 0, 1, 0], false],
  ])('%s: %s', (_name, bytes, expected) => {
    expect(isDerSequence(new Uint8Array(bytes))).toBe(expected);
  });
});

describe('forwardedCertificate: the header a trusted proxy writes', () => {
  const read = (value: string | string[] | undefined) => {
    const der = forwardedCertificate(value);
    return der instanceof Uint8Array ? thumbprintOf(der) : der;
  };

  it('reads URL-encoded PEM (nginx $ssl_client_escaped_cert, Envoy %DOWNSTREAM_PEER_CERT%)', () => {
    expect(read(alice.escapedPem)).toBe(alice.thumbprint);
  });

  it('reads URL-encoded PEM that leaves + / = as they are (AWS ALB)', () => {
    const alb = alice.escapedPem.replace(/%2B/g, '+').replace(/%2F/g, '/').replace(/%3D/g, '=');
    expect(alb).toMatch(/^-----BEGIN%20CERTIFICATE-----%0A/);
    expect(read(alb)).toBe(alice.thumbprint);
  });

  it('reads a URL-encoded chain (ALB passthrough): the client certificate first', () => {
    expect(read(encodeURIComponent(`${alice.pem}${ca.pem}`))).toBe(alice.thumbprint);
  });

  it('reads PEM whose line breaks became spaces (a header cannot carry them)', () => {
    expect(read(alice.pem.trim().replace(/\n/g, ' '))).toBe(alice.thumbprint);
  });

  it('reads RFC 9440 Client-Cert (a structured-field byte sequence) and bare base64 DER', () => {
    expect(read(`:${base64(alice.der)}:`)).toBe(alice.thumbprint);
    expect(read(base64(alice.der))).toBe(alice.thumbprint);
  });

  it('sees no certificate in an absent or empty field (nginx sends an empty value)', () => {
    expect(read(undefined)).toBeUndefined();
    expect(read('')).toBeUndefined();
    expect(read('  ')).toBeUndefined();
  });

  it.each([
    ['the field sent twice (Node record)', () => [alice.escapedPem, bob.escapedPem]],
    ['the field sent twice (joined by a Headers object)', () => `${base64(alice.der)}, ${base64(bob.der)}`],
    ['two byte sequences', () => `:${base64(alice.der)}:, :${base64(bob.der)}:`],
    ['a stray %', () => alice.escapedPem.replace('%0A', '%G0')],
    ['a private key', () => encodeURIComponent('-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n')],
    ['base64url instead of base64', () => Buffer.from(alice.der).toString('base64url').replace(/^/, '_')],
    ['base64 of a truncated DER', () => base64(alice.der.slice(0, -4))],
    ['base64 one character too long', () => `${base64(alice.der).replace(/=+$/, '')}AAAAA`],
    ['base64 with padding in the middle', () => `${base64(alice.der).slice(0, 8)}==${base64(alice.der).slice(8)}`],
    ['base64 with a space inside', () => `${base64(alice.der).slice(0, 20)} ${base64(alice.der).slice(20)}`],
    ['an Envoy XFCC element', () => `By=spiffe://api;Hash=abc;Cert="${alice.escapedPem}"`],
    ['a thumbprint instead of a certificate', () => alice.thumbprint],
    ['an unterminated byte sequence', () => `:${base64(alice.der)}`],
  ])('refuses %s', (_name, value) => {
    expect(read(value())).toBeNull();
  });

  it('never throws, whatever the field holds', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (value) => {
        const result = forwardedCertificate(value);
        expect(result === undefined || result === null || result instanceof Uint8Array).toBe(true);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('-', 'B', 'E', 'G', 'I', 'N', '%', '0', 'A', ':', '=', ' ') }),
        (v) => {
          forwardedCertificate(`-----BEGIN${v}`);
          forwardedCertificate(`:${v}:`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  // A backtracking blow-up would run past the test's timeout.
  it('refuses a 16 KiB field of near-PEM without regular-expression blow-up', () => {
    const body = 'A'.repeat(16_000);
    for (const value of [`-----BEGIN%20CERTIFICATE-----${body}`, `-----BEGIN CERTIFICATE-----${' A'.repeat(8_000)}`]) {
      expect(forwardedCertificate(value)).toBeNull();
    }
    expect(derOfPem(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`)).toBeNull();
    expect(derOfPem(`${alice.pem}-----BEGIN CERTIFICATE-----\n${body}`)).toBeNull();
  });
});
