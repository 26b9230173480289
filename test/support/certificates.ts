/**
 * X.509 certificates made in the test (nothing secret is checked in): a CA, a TLS server
 * certificate for 127.0.0.1, client certificates issued by the CA or self-signed (RFC 8705 §2.2),
 * and an HTTPS client that presents one. Keys are ECDSA P-256, made through WebCrypto with
 * @peculiar/x509 (its dependency injection needs the reflect-metadata polyfill).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, webcrypto } from 'node:crypto';
import { request as httpsRequest } from 'node:https';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR = 3600_000;

/** A certificate and its private key, in the forms a test needs. */
export interface TestCertificate {
  /** PEM text of the certificate. */
  readonly pem: string;
  /** DER bytes of the certificate. */
  readonly der: Uint8Array;
  /** PEM (PKCS #8) of its private key. */
  readonly keyPem: string;
  /** RFC 8705 `x5t#S256`: base64url SHA-256 of the DER, as an IdP puts it in `cnf`. */
  readonly thumbprint: string;
  /** The PEM URL-encoded as nginx's `$ssl_client_escaped_cert` (and Envoy, AWS ALB) send it. */
  readonly escapedPem: string;
}

/** A certificate authority that issues server and client certificates. */
export interface TestCa extends TestCertificate {
  /** A TLS server certificate for 127.0.0.1 and localhost. */
  issueServer(): Promise<TestCertificate>;
  /** A client certificate (`extKeyUsage clientAuth`) for `commonName`. */
  issueClient(commonName: string): Promise<TestCertificate>;
}

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(2, '0');
const validity = () => ({ notBefore: new Date(Date.now() - HOUR), notAfter: new Date(Date.now() + 24 * HOUR) });

async function pair(cert: x509.X509Certificate, keys: KeyPair): Promise<TestCertificate> {
  const der = new Uint8Array(cert.rawData);
  const pem = cert.toString('pem');
  const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return {
    pem,
    der,
    keyPem,
    thumbprint: createHash('sha256').update(der).digest('base64url'),
    escapedPem: encodeURIComponent(`${pem.trim()}\n`),
  };
}

const newKeys = () => webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<KeyPair>;

/** A new CA (self-signed, `basicConstraints CA:TRUE`). */
export async function createTestCa(commonName = 'revocable-jwt test CA'): Promise<TestCa> {
  const caKeys = await newKeys();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${commonName}`,
    ...validity(),
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const issue = async (subject: string, extensions: x509.Extension[]) => {
    const keys = await newKeys();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject,
      issuer: caCert.subject,
      ...validity(),
      signingKey: caKeys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALG,
      extensions: [new x509.BasicConstraintsExtension(false), ...extensions],
    });
    return pair(cert, keys);
  };
  return {
    ...(await pair(caCert, caKeys)),
    issueServer: () =>
      issue('CN=127.0.0.1', [
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'ip', value: '127.0.0.1' },
          { type: 'dns', value: 'localhost' },
        ]),
      ]),
    issueClient: (commonName) =>
      issue(`CN=${commonName}`, [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])]),
  };
}

/** A self-signed client certificate (RFC 8705 §2.2: no CA involved). */
export async function selfSignedClient(commonName: string): Promise<TestCertificate> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${commonName}`,
    ...validity(),
    keys,
    signingAlgorithm: ALG,
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
  });
  return pair(cert, keys);
}

/** What an HTTPS call answered. */
export interface TlsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/**
 * A GET over TLS (a fresh connection each time, so a certificate never leaks from one call to
 * the next through a kept-alive socket), presenting `certificate` when given, trusting `ca`.
 */
export function tlsGet(
  url: string,
  options: { ca: string; certificate?: TestCertificate; headers?: Record<string, string> },
): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: 'GET',
        ca: options.ca,
        agent: false,
        headers: options.headers,
        ...(options.certificate ? { cert: options.certificate.pem, key: options.certificate.keyPem } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
