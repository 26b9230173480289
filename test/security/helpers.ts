/**
 * Helpers for the security suites: hand-made JWS (any header bytes, any payload bytes, any
 * signature) signed with node:crypto so that no JOSE library gets a say in what is produced, the
 * IdP's genuine public key in every shape an attacker might use as an HMAC secret, ECDSA
 * signature arithmetic, and a raw HTTP/1.1 client for requests that ordinary clients refuse to
 * send (duplicate headers, non-ASCII bytes, oversized headers).
 *
 * Not a test file (no `.test.ts`): imported by the suites in this folder and by fuzz-long.ts, so it
 * must not import @jest/globals.
 */
import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect as tcpConnect, type AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { AuthError } from '../../src/index.js';
import { b64u } from './encoding.js';

export { b64u } from './encoding.js';
export const json = (value: unknown): string => JSON.stringify(value);

/** The private key of an IdP signing key (or any private JWK) as a node KeyObject. */
export function privateKeyOf(key: { privateJwk: JWK } | JWK): KeyObject {
  const jwk = 'privateJwk' in key ? (key as { privateJwk: JWK }).privateJwk : (key as JWK);
  const { kid: _kid, alg: _alg, use: _use, key_ops: _ops, ...material } = jwk;
  return createPrivateKey({ key: material as never, format: 'jwk' });
}

export function publicKeyOf(key: { privateJwk: JWK } | JWK): KeyObject {
  return createPublicKey(privateKeyOf(key));
}

/** The public key in the shapes a key-confusion attacker would try as an HMAC secret. */
export function publicKeyShapes(key: { privateJwk: JWK }): Array<[string, Uint8Array]> {
  const pub = publicKeyOf(key);
  const jwk = pub.export({ format: 'jwk' }) as JWK;
  const published = { ...jwk, kid: key.privateJwk.kid, alg: key.privateJwk.alg, use: 'sig' };
  const shapes: Array<[string, Uint8Array]> = [
    ['SPKI PEM', Buffer.from(pub.export({ type: 'spki', format: 'pem' }) as string)],
    [
      'SPKI PEM without trailing newline',
      Buffer.from((pub.export({ type: 'spki', format: 'pem' }) as string).trimEnd()),
    ],
    ['SPKI DER bytes', pub.export({ type: 'spki', format: 'der' })],
    ['JWK JSON (bare)', Buffer.from(JSON.stringify(jwk))],
    ['JWK JSON (as published, kid/alg/use)', Buffer.from(JSON.stringify(published))],
    ['JWKS JSON', Buffer.from(JSON.stringify({ keys: [published] }))],
  ];
  if (jwk.kty === 'RSA') {
    shapes.push(['PKCS#1 PEM', Buffer.from(pub.export({ type: 'pkcs1', format: 'pem' }) as string)]);
    shapes.push(['raw modulus n bytes', Buffer.from(jwk.n!, 'base64url')]);
    shapes.push(['modulus n as base64url text', Buffer.from(jwk.n!)]);
  } else if (jwk.kty === 'EC') {
    shapes.push([
      'raw uncompressed point',
      Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]),
    ]);
  }
  return shapes;
}

const BITS = (alg: string) => alg.slice(-3);

/** Signs `data` (the ASCII signing input) for `alg`, returning the base64url signature. */
export function signBytes(alg: string, key: KeyObject | Uint8Array, data: string): string {
  const input = Buffer.from(data, 'latin1');
  if (alg.startsWith('HS'))
    return createHmac(`sha${BITS(alg)}`, key as Uint8Array)
      .update(input)
      .digest('base64url');
  const keyObject = key as KeyObject;
  if (alg.startsWith('RS')) return nodeSign(`sha${BITS(alg)}`, input, keyObject).toString('base64url');
  if (alg.startsWith('PS')) {
    const bits = Number(BITS(alg));
    return nodeSign(`sha${bits}`, input, {
      key: keyObject,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: bits / 8,
    }).toString('base64url');
  }
  if (alg.startsWith('ES'))
    return nodeSign(`sha${BITS(alg)}`, input, { key: keyObject, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  if (alg === 'EdDSA' || alg === 'Ed25519') return nodeSign(null, input, keyObject).toString('base64url');
  throw new Error(`signBytes: unsupported alg ${alg}`);
}

/**
 * A compact JWS from raw parts: `header` and `payload` are used byte for byte when strings (so
 * duplicate JSON members and odd numbers survive), JSON-encoded when objects. Signed over exactly
 * the encoded text, with `signAs` (default: header.alg when the header is an object).
 */
export function rawSigned(
  header: string | Record<string, unknown>,
  payload: string | Record<string, unknown> | Uint8Array,
  key: KeyObject | Uint8Array,
  signAs?: string,
): string {
  const headerText = typeof header === 'string' ? header : JSON.stringify(header);
  const payloadBytes =
    payload instanceof Uint8Array ? payload : typeof payload === 'string' ? payload : JSON.stringify(payload);
  const alg = signAs ?? (typeof header === 'string' ? undefined : (header.alg as string));
  if (!alg) throw new Error('rawSigned: pass signAs for a string header');
  const input = `${b64u(headerText)}.${b64u(payloadBytes)}`;
  return `${input}.${signBytes(alg, key, input)}`;
}

/** Splits a compact JWS; throws unless it has exactly three segments. */
export function parts(token: string): [string, string, string] {
  const split = token.split('.');
  if (split.length !== 3) throw new Error('not a compact JWS');
  return split as [string, string, string];
}

export const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(parts(token)[1], 'base64url').toString('utf8')) as Record<string, unknown>;

// --- ECDSA ------------------------------------------------------------------------------------

/** Group orders of the NIST curves JOSE uses. */
export const CURVE_ORDER = {
  ES256: BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551'),
  ES384: BigInt('0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973'),
} as const;
export const COORD_BYTES = { ES256: 32, ES384: 48 } as const;

export function bigToBytes(value: bigint, size: number): Buffer {
  const hex = value.toString(16).padStart(size * 2, '0');
  if (hex.length > size * 2) throw new Error('value too large');
  return Buffer.from(hex, 'hex');
}
export const bytesToBig = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);

/** An IEEE P1363 (r || s) signature segment from two integers. */
export function ecSignature(alg: 'ES256' | 'ES384', r: bigint, s: bigint): string {
  const size = COORD_BYTES[alg];
  return Buffer.concat([bigToBytes(r, size), bigToBytes(s, size)]).toString('base64url');
}

/** The (r, s) pair of a P1363 signature segment. */
export function ecParts(alg: 'ES256' | 'ES384', signature: string): { r: bigint; s: bigint } {
  const bytes = Buffer.from(signature, 'base64url');
  const size = COORD_BYTES[alg];
  return { r: bytesToBig(bytes.subarray(0, size)), s: bytesToBig(bytes.subarray(size)) };
}

/** The same signature in ASN.1 DER, as some libraries (wrongly, for JWS) produce it. */
export function ecDerSignature(alg: 'ES256' | 'ES384', signature: string): string {
  const { r, s } = ecParts(alg, signature);
  const integer = (v: bigint) => {
    let bytes = Buffer.from(
      v
        .toString(16)
        .padStart(2, '0')
        .replace(/^(.(..)*)$/, '0$1'),
      'hex',
    );
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([2, bytes.length]), bytes]);
  };
  const body = Buffer.concat([integer(r), integer(s)]);
  const header = body.length < 128 ? Buffer.from([0x30, body.length]) : Buffer.from([0x30, 0x81, body.length]);
  return Buffer.concat([header, body]).toString('base64url');
}

// --- base64url variants: encoding.ts (runtime-neutral, shared with the runtime differential) ---

export { nonCanonicalSpellings } from './encoding.js';

// --- assertions without jest ------------------------------------------------------------------

/** Resolves to the rejection of `promise`; throws if it resolved or rejected with a non-AuthError. */
export async function authRejection(promise: Promise<unknown>): Promise<AuthError> {
  let outcome: { resolved: true } | { resolved: false; error: unknown };
  try {
    await promise;
    outcome = { resolved: true };
  } catch (error) {
    outcome = { resolved: false, error };
  }
  if (outcome.resolved) throw new Error('expected a rejection, got a verified token');
  if (!(outcome.error instanceof AuthError)) {
    throw new Error(`expected an AuthError, got ${describeError(outcome.error)}`, { cause: outcome.error });
  }
  return outcome.error;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name}: ${error.message}`;
  return `non-Error ${typeof error}: ${String(error)}`;
}

// --- raw HTTP ---------------------------------------------------------------------------------

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The unparsed response, for debugging. */
  raw: string;
}

/** Listens on 127.0.0.1 with the given handler (and optional server options). */
export async function listen(
  handler: RequestListener,
  options: { maxHeaderSize?: number } = {},
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer(options, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Sends one GET with header lines written verbatim (strings as latin1, or raw Buffers), over a
 * fresh socket, and parses whatever comes back. HTTP client libraries refuse to send most of what
 * this is for.
 */
export async function rawRequest(port: number, headerLines: Array<string | Buffer>, path = '/'): Promise<RawResponse> {
  const head = Buffer.concat([
    Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`, 'latin1'),
    ...headerLines.map((line) =>
      Buffer.concat([typeof line === 'string' ? Buffer.from(line, 'latin1') : line, Buffer.from('\r\n')]),
    ),
    Buffer.from('Connection: close\r\n\r\n'),
  ]);
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => {
      socket.write(head);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    // Node may reset the connection right after answering a request it refused to parse.
    socket.on('error', (error) =>
      chunks.length > 0 ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(error),
    );
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
  });
  const split = raw.indexOf('\r\n\r\n');
  const headText = split === -1 ? raw : raw.slice(0, split);
  const [statusLine = '', ...lines] = headText.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: split === -1 ? '' : raw.slice(split + 4), raw };
}
