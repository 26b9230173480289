/**
 * Attack corpus (RFC 8725, JWT BCP): every known way to get a forged, confused or replayed token
 * past a JWT verifier, run against the real verifier and `authGuard`, with tokens from a real IdP
 * (oidc-provider in-process) and hand-made tokens signed with its *genuine* private key — so when
 * something is refused, it is refused for the reason under test and not because the signature
 * happened to be wrong.
 *
 * Each `it` names the protection it pins. Behaviour that is accepted on purpose (and why that is
 * safe) is spelt out in tests whose names start with "documents:". `it.failing` marks a real bug in
 * src/ (see the comment above each); flip it to `it` once src/ is fixed. Attacks through the
 * verified-token cache are in cache-abuse.test.ts, attacks on the HTTP request in http-attacks.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KeyObject } from 'node:crypto';
import { CompactEncrypt, importJWK, type JWK } from 'jose';
import request from 'supertest';
import { InvalidTokenError, type RejectionReason } from '../../src/index.js';
import { generateSigningKey } from '../../example-app/embedded-idp.js';
import { refused } from '../support/expect-refusal.js';
import { sendJson, startStubServer, type StubServer } from '../support/http.js';
import {
  attackerKey,
  rawToken,
  signToken,
  standardClaims,
  startIdp,
  testClock,
  type EmbeddedIdp,
  type SigningKey,
} from '../support/idp.js';
import { closeVerifiers, verifierFor } from '../support/verifier-for.js';
import { guardedApp } from './guarded-app.js';
import {
  b64u,
  claimsOf,
  CURVE_ORDER,
  ecDerSignature,
  ecParts,
  ecSignature,
  parts,
  privateKeyOf,
  publicKeyOf,
  publicKeyShapes,
  rawSigned,
  signBytes,
} from './helpers.js';

let idp: EmbeddedIdp; // RS256
let ecIdp: EmbeddedIdp; // ES256
let es384Idp: EmbeddedIdp; // ES384
let key: SigningKey;
let pk: KeyObject;
let trap: StubServer; // stands in for every attacker URL (jku, x5u): it must never be asked anything
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [idp, ecIdp, es384Idp] = await Promise.all([startIdp(), startIdp({ alg: 'ES256' }), startIdp({ alg: 'ES384' })]);
  key = idp.keys[0]!;
  pk = privateKeyOf(key);
  trap = await startStubServer((_req, res) => sendJson(res, 200, { keys: [] }));
});
afterAll(async () => {
  await closeVerifiers();
  await Promise.all(closers.map((close) => close()));
  await trap.close();
  await Promise.all([idp.close(), ecIdp.close(), es384Idp.close()]);
});

const nowSec = () => Math.floor(Date.now() / 1000);
/**
 * Claims JSON text with one member replaced by a raw JSON literal (numbers and types JSON.stringify cannot make),
 * issued at `now` (epoch ms): pass the verifier's injected clock, if it has one.
 */
function claimsWith(
  of: EmbeddedIdp,
  claim: string,
  literal: string | undefined,
  overrides: Record<string, unknown> = {},
  now = Date.now(),
): string {
  const claims: Record<string, unknown> = { ...standardClaims(of, {}, now), ...overrides };
  delete claims[claim];
  const text = JSON.stringify(claims);
  return literal === undefined ? text : `${text.slice(0, -1)},"${claim}":${literal}}`;
}
const genuineHeader = (extra: Record<string, unknown> = {}) => ({
  alg: 'RS256',
  kid: key.kid,
  typ: 'at+jwt',
  ...extra,
});
/** Signed with the IdP's genuine RS256 key, header and claims exactly as given. */
const genuine = (header: string | Record<string, unknown>, payload: string | Record<string, unknown> | Uint8Array) =>
  rawSigned(header, payload, pk, 'RS256');

// -------------------------------------------------------------------------------------------------

describe('alg: none (RFC 8725 §2.1, §3.1)', () => {
  const spellings: string[] = [];
  for (let mask = 0; mask < 16; mask++)
    spellings.push([...'none'].map((c, i) => (mask & (1 << i) ? c.toUpperCase() : c)).join(''));

  it.each(spellings)(
    'refuses alg %j (empty, genuine-looking or arbitrary signature) before fetching any key',
    async (alg) => {
      const verifier = verifierFor(idp);
      const real = await idp.issueAccessToken();
      for (const signature of ['', parts(real)[2], 'AAAA']) {
        for (const header of [{ alg }, { alg, kid: key.kid, typ: 'at+jwt' }]) {
          await refused(verifier.verify(rawToken(header, standardClaims(idp), signature)), 'algorithm_not_allowed');
        }
      }
      expect(verifier.stats().jwks.fetches).toBe(0);
      expect(verifier.stats().discovery.fetches).toBe(0);
    },
  );

  it('refuses a missing, empty, non-string or mis-cased alg even over a genuine RS256 signature', async () => {
    const verifier = verifierFor(idp);
    const headers: Array<Record<string, unknown>> = [
      { kid: key.kid },
      { alg: '', kid: key.kid },
      { alg: null, kid: key.kid },
      { alg: ['RS256'], kid: key.kid },
      { alg: { name: 'RS256' }, kid: key.kid },
      { alg: 'rs256', kid: key.kid },
      { alg: 'RS256 ', kid: key.kid },
      { alg: 'RS256\u0000', kid: key.kid },
    ];
    for (const header of headers) {
      await refused(verifier.verify(rawSigned(header, standardClaims(idp), pk, 'RS256')), [
        'algorithm_not_allowed',
        'malformed_token',
      ]);
    }
    expect(verifier.stats().cache.size).toBe(0);
  });
});

describe('key confusion: HMAC keyed with the IdP public key (RFC 8725 §2.1, §3.1)', () => {
  it.each(['HS256', 'HS384', 'HS512'])(
    'refuses %s signed with the RSA public key as PEM, DER, JWK JSON, JWKS JSON and raw n, before any key lookup',
    async (alg) => {
      const verifier = verifierFor(idp);
      for (const [shape, secret] of publicKeyShapes(key)) {
        for (const header of [
          { alg, kid: key.kid, typ: 'at+jwt' },
          { alg, typ: 'at+jwt' },
        ]) {
          const token = rawSigned(header, standardClaims(idp), secret);
          const error = await refused(verifier.verify(token), 'algorithm_not_allowed').catch((e: unknown) => {
            throw new Error(`key confusion with the public key as ${shape}: ${String(e)}`);
          });
          expect(error.status).toBe(401);
        }
      }
      // The allowlist is checked before the key resolver runs: the JWKS was never even fetched.
      expect(verifier.stats().jwks.fetches).toBe(0);
    },
  );

  it.each(['HS256', 'HS384', 'HS512'])(
    'with HMAC explicitly enabled, %s keyed with the public key still fails: only the configured secret is an HMAC key',
    async (alg) => {
      const verifier = verifierFor(idp, {
        algorithms: ['RS256', 'HS256', 'HS384', 'HS512'],
        secret: 'the-configured-shared-secret-32-bytes!!',
      });
      for (const [shape, secret] of publicKeyShapes(key)) {
        const token = rawSigned({ alg, kid: key.kid, typ: 'at+jwt' }, standardClaims(idp), secret);
        await refused(verifier.verify(token), 'signature_invalid').catch((e: unknown) => {
          throw new Error(`HMAC-enabled key confusion with the public key as ${shape}: ${String(e)}`);
        });
      }
      // The JWKS is never consulted for an HMAC token.
      expect(verifier.stats().jwks.fetches).toBe(0);
    },
  );

  it('refuses HS256 keyed with the EC public key (PEM, DER, JWK, raw point)', async () => {
    const verifier = verifierFor(ecIdp);
    for (const [shape, secret] of publicKeyShapes(ecIdp.keys[0]!)) {
      const token = rawSigned({ alg: 'HS256', kid: ecIdp.keys[0]!.kid }, standardClaims(ecIdp), secret);
      await refused(verifier.verify(token), 'algorithm_not_allowed').catch((e: unknown) => {
        throw new Error(`EC key confusion (${shape}): ${String(e)}`);
      });
    }
  });
});

describe('algorithm does not match the key (RFC 8725 §3.1)', () => {
  it('refuses an ES256 header whose kid names the IdP RSA key', async () => {
    const verifier = verifierFor(idp);
    const ec = await attackerKey('ES256');
    await refused(verifier.verify(await signToken(standardClaims(idp), { ...ec, kid: key.kid })), 'key_not_found');
    // Not even a valid RSA signature under an ES256 label gets anywhere.
    await refused(
      verifier.verify(rawSigned({ alg: 'ES256', kid: key.kid }, standardClaims(idp), pk, 'RS256')),
      'key_not_found',
    );
  });

  it('refuses an EdDSA header whose kid names the IdP RSA key', async () => {
    const ed = await attackerKey('EdDSA');
    await refused(
      verifierFor(idp).verify(await signToken(standardClaims(idp), { ...ed, kid: key.kid })),
      'key_not_found',
    );
  });

  it.each(['PS256', 'RS384', 'RS512', 'PS384', 'PS512'])(
    'refuses %s signed with the genuine RSA key: the published JWK pins alg RS256',
    async (alg) => {
      const token = rawSigned({ alg, kid: key.kid, typ: 'at+jwt' }, standardClaims(idp), pk);
      await refused(verifierFor(idp).verify(token), 'key_not_found');
    },
  );

  it('refuses an RS256 header whose kid names the IdP EC key', async () => {
    const verifier = verifierFor(ecIdp);
    const rsa = await attackerKey('RS256');
    await refused(
      verifier.verify(await signToken(standardClaims(ecIdp), { ...rsa, kid: ecIdp.keys[0]!.kid })),
      'key_not_found',
    );
  });

  it('refuses an ES384 header on the IdP P-256 key (curve mismatch)', async () => {
    const verifier = verifierFor(ecIdp);
    const p384 = await attackerKey('ES384');
    await refused(
      verifier.verify(await signToken(standardClaims(ecIdp), { ...p384, kid: ecIdp.keys[0]!.kid })),
      'key_not_found',
    );
  });

  it('documents: a JWK without `alg` accepts any allowed RSA algorithm signed by its key; `algorithms` pins it', async () => {
    // Same private key, so this is not a forgery — but it is why RFC 8725 §3.1 asks to pin the
    // algorithm: with an alg-less JWKS, the allowlist is the only pin.
    const { alg: _alg, ...noAlg } = publicKeyOf(key).export({ format: 'jwk' }) as JWK;
    const jwks = await startStubServer((_req, res) =>
      sendJson(res, 200, { keys: [{ ...noAlg, kid: key.kid, use: 'sig' }] }),
    );
    closers.push(() => jwks.close());
    const ps256 = rawSigned({ alg: 'PS256', kid: key.kid }, standardClaims(idp), pk);
    await expect(verifierFor(idp, { jwksUri: `${jwks.url}/jwks` }).verify(ps256)).resolves.toMatchObject({
      header: { alg: 'PS256' },
    });
    await refused(
      verifierFor(idp, { jwksUri: `${jwks.url}/jwks`, algorithms: ['RS256'] }).verify(ps256),
      'algorithm_not_allowed',
    );
  });
});

describe('kid injection (RFC 8725 §3.10)', () => {
  const hostile: Array<[string, string]> = [
    ['path traversal', '../../etc/passwd'],
    ['absolute path', '/dev/null'],
    ['file URL', 'file:///etc/passwd'],
    ['SQL injection', "' OR 1=1 --"],
    ['SQL statement', '"; DROP TABLE keys; --'],
    ['embedded NUL', 'kid\u0000null'],
    ['lone NUL', '\u0000'],
    ['URL-encoded NUL', '%00'],
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
    ['hasOwnProperty', 'hasOwnProperty'],
    ['a 10 KB kid', 'k'.repeat(10 * 1024)],
    ['unicode', '🔑-ключ-鍵'],
    ['RTL override', '\u202Edik'],
    ['JNDI lookup', '${jndi:ldap://127.0.0.1:1/a}'],
    ['a URL', 'http://127.0.0.1:1/jwks'],
    ['the empty string', ''],
    ['a space', ' '],
  ];

  it.each(hostile)('refuses a kid that is %s, signed with the genuine key, and never echoes it', async (_name, kid) => {
    const verifier = verifierFor(idp);
    const error = await refused(verifier.verify(genuine(genuineHeader({ kid }), standardClaims(idp))), 'key_not_found');
    expect(error.status).toBe(401);
    if (kid.trim().length > 2) {
      expect(error.message).not.toContain(kid);
      expect(JSON.stringify(error.headers)).not.toContain(kid);
    }
    expect(verifier.stats().jwks.fetches).toBe(1); // the first load; the cooldown blocks a refetch
  });

  it('refuses case, whitespace and suffix variants of the genuine kid', async () => {
    const verifier = verifierFor(idp);
    for (const kid of [
      key.kid.toUpperCase(),
      `${key.kid} `,
      ` ${key.kid}`,
      `${key.kid}\u0000`,
      `${key.kid}/../${key.kid}`,
      `${key.kid}\n`,
    ]) {
      await refused(verifier.verify(genuine(genuineHeader({ kid }), standardClaims(idp))), 'key_not_found');
    }
  });

  it('refuses non-string kids (number, array, object, null, boolean), even over a genuine signature', async () => {
    const verifier = verifierFor(idp);
    for (const kid of [123, [key.kid], { kid: key.kid }, null, true]) {
      await refused(verifier.verify(genuine(genuineHeader({ kid }), standardClaims(idp))), 'key_not_found');
    }
  });
});

describe('jku / x5u / jwk / x5c headers (RFC 8725 §3.10): never trusted, never fetched', () => {
  const attackerHeaders = (attackerJwk: unknown, x5c: string) => ({
    jku: `${trap.url}/jwks.json`,
    x5u: `${trap.url}/cert.pem`,
    jwk: attackerJwk,
    x5c: [x5c],
  });

  it('refuses a token signed by an attacker key it embeds (jwk, x5c) or links (jku, x5u), whatever the kid', async () => {
    const attacker = await attackerKey('RS256');
    const x5c = publicKeyOf(attacker.privateJwk).export({ type: 'spki', format: 'der' }).toString('base64');
    const verifier = verifierFor(idp);
    const headers = attackerHeaders(attacker.publicJwk, x5c);
    const cases: Array<[string | undefined, RejectionReason]> = [
      ['attacker-key', 'key_not_found'],
      [key.kid, 'signature_invalid'],
      [undefined, 'signature_invalid'], // no kid: the IdP's RSA key is tried, and fails
    ];
    for (const [kid, reason] of cases) {
      const token = rawSigned(
        { alg: 'RS256', typ: 'at+jwt', ...(kid !== undefined ? { kid } : {}), ...headers },
        standardClaims(idp),
        privateKeyOf(attacker.privateJwk),
      );
      await refused(verifier.verify(token), reason);
    }
    expect(trap.requests).toHaveLength(0);
  });

  it('documents: on a genuinely signed token those headers are ignored (accepted, nothing fetched)', async () => {
    const attacker = await attackerKey('RS256');
    const token = genuine(genuineHeader(attackerHeaders(attacker.publicJwk, 'AAAA')), standardClaims(idp));
    await expect(verifierFor(idp).verify(token)).resolves.toBeDefined();
    expect(trap.requests).toHaveLength(0);
  });
});

describe('crit and b64 (RFC 7515 §4.1.11, RFC 7797)', () => {
  it.each<[string, Record<string, unknown>, RejectionReason]>([
    [
      'an unknown extension',
      { crit: ['urn:example:must-understand'], 'urn:example:must-understand': true },
      'unsupported_token',
    ],
    ['a registered header name', { crit: ['alg'] }, 'unsupported_token'],
    ['an extension missing from the header', { crit: ['urn:example:absent'] }, 'unsupported_token'],
    ['an empty list', { crit: [] }, 'malformed_token'],
    ['a string instead of a list', { crit: 'urn:example:x', 'urn:example:x': 1 }, 'malformed_token'],
    ['a non-string member', { crit: [1] }, 'malformed_token'],
  ])('refuses crit with %s, even over a genuine signature', async (_name, extra, reason) => {
    await refused(verifierFor(idp).verify(genuine(genuineHeader(extra), standardClaims(idp))), reason);
  });

  it('refuses b64: false under crit (unencoded payload), even over a genuine signature', async () => {
    // Signed over the text as sent: with b64 false the payload segment is the signing input itself.
    const header = b64u(JSON.stringify(genuineHeader({ b64: false, crit: ['b64'] })));
    const payload = b64u(JSON.stringify(standardClaims(idp)));
    const token = `${header}.${payload}.${signBytes('RS256', pk, `${header}.${payload}`)}`;
    await refused(verifierFor(idp).verify(token), 'malformed_token');
  });

  it('refuses b64: false with a raw JSON payload (it has dots: not three segments)', async () => {
    const header = b64u(JSON.stringify(genuineHeader({ b64: false, crit: ['b64'] })));
    const payload = JSON.stringify(standardClaims(idp));
    const token = `${header}.${payload}.${signBytes('RS256', pk, `${header}.${payload}`)}`;
    await refused(verifierFor(idp).verify(token), 'malformed_token');
  });

  it('documents: b64: false without crit is ignored (RFC 7797 §6), the payload is read as base64url as usual', async () => {
    const result = await verifierFor(idp).verify(genuine(genuineHeader({ b64: false }), standardClaims(idp)));
    expect(result.payload.iss).toBe(idp.issuer);
  });
});

describe('nested JWT and JWE (RFC 8725 §2.7, §3.11)', () => {
  it('refuses a genuinely signed outer JWS with cty: JWT whose payload is a genuine access token', async () => {
    const inner = await idp.issueAccessToken();
    const verifier = verifierFor(idp);
    await refused(verifier.verify(genuine(genuineHeader({ cty: 'JWT' }), Buffer.from(inner))), 'malformed_token');
    await refused(verifier.verify(genuine(genuineHeader({ cty: 'JWT' }), JSON.stringify(inner))), 'malformed_token');
    expect(verifier.stats().cache.size).toBe(0);
  });

  it('refuses an attacker JWS wrapping a genuine access token', async () => {
    const inner = await idp.issueAccessToken();
    const attacker = await attackerKey('RS256');
    const outer = rawSigned(
      { alg: 'RS256', kid: key.kid, cty: 'JWT' },
      Buffer.from(inner),
      privateKeyOf(attacker.privateJwk),
    );
    await refused(verifierFor(idp).verify(outer), 'signature_invalid');
  });

  it('refuses a real JWE (RSA-OAEP-256 to the IdP key, carrying a genuine token) before any key lookup or decryption', async () => {
    const inner = await idp.issueAccessToken();
    const publicJwk = publicKeyOf(key).export({ format: 'jwk' }) as JWK;
    const jwe = await new CompactEncrypt(new TextEncoder().encode(inner))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', kid: key.kid })
      .encrypt(await importJWK(publicJwk, 'RSA-OAEP-256'));
    expect(jwe.split('.')).toHaveLength(5);
    const verifier = verifierFor(idp);
    await refused(verifier.verify(jwe), 'encrypted_token');
    expect(verifier.stats()).toMatchObject({ jwks: { fetches: 0 }, discovery: { fetches: 0 } });
  });

  it('refuses a dir/A256GCM JWE and a five-segment token whose header claims RS256', async () => {
    const secret = await importJWK({ kty: 'oct', k: b64u(new Uint8Array(32).fill(7)) }, 'A256GCM');
    const dir = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(standardClaims(idp))))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(secret);
    const verifier = verifierFor(idp);
    await refused(verifier.verify(dir), 'encrypted_token');
    const real = await idp.issueAccessToken();
    await refused(verifier.verify(`${real}.AAAA.BBBB`), 'encrypted_token');
    expect(verifier.stats().jwks.fetches).toBe(0);
  });
});

describe('ECDSA signature edge cases (CVE-2022-21449 "psychic signatures", malleability)', () => {
  const table = [['ES256'], ['ES384']] as Array<['ES256' | 'ES384']>;
  const idpFor = (alg: 'ES256' | 'ES384') => (alg === 'ES256' ? ecIdp : es384Idp);
  /** A genuine token: issued by the ES256 IdP; signed with the ES384 IdP's genuine key (its token endpoint only issues ES256/RS256). */
  const ecToken = async (alg: 'ES256' | 'ES384') =>
    alg === 'ES256' ? ecIdp.issueAccessToken() : signToken(standardClaims(es384Idp), es384Idp.keys[0]!);

  it.each(table)('%s: refuses r = s = 0 (the all-zero signature)', async (alg) => {
    const of = idpFor(alg);
    const [h, p] = parts(await ecToken(alg));
    await refused(verifierFor(of).verify(`${h}.${p}.${ecSignature(alg, 0n, 0n)}`), 'signature_invalid');
  });

  it.each(table)('%s: refuses r = s = n (the curve order) and r = n with the genuine s', async (alg) => {
    const of = idpFor(alg);
    const [h, p, sig] = parts(await ecToken(alg));
    const n = CURVE_ORDER[alg];
    const verifier = verifierFor(of);
    await refused(verifier.verify(`${h}.${p}.${ecSignature(alg, n, n)}`), 'signature_invalid');
    await refused(verifier.verify(`${h}.${p}.${ecSignature(alg, n, ecParts(alg, sig).s)}`), 'signature_invalid');
  });

  it.each(table)('%s: refuses r = 0 or s = 0 with the other half genuine, and r = s = 1', async (alg) => {
    const of = idpFor(alg);
    const [h, p, sig] = parts(await ecToken(alg));
    const { r, s } = ecParts(alg, sig);
    const verifier = verifierFor(of);
    for (const [rr, ss] of [
      [0n, s],
      [r, 0n],
      [1n, 1n],
      [r, r],
      [s, r],
    ] as Array<[bigint, bigint]>) {
      await refused(verifier.verify(`${h}.${p}.${ecSignature(alg, rr, ss)}`), 'signature_invalid');
    }
  });

  it.each(table)('%s: refuses the genuine signature DER-encoded, truncated, extended or empty', async (alg) => {
    const of = idpFor(alg);
    const [h, p, sig] = parts(await ecToken(alg));
    const bytes = Buffer.from(sig, 'base64url');
    const verifier = verifierFor(of);
    for (const variant of [
      ecDerSignature(alg, sig),
      b64u(bytes.subarray(0, -1)),
      b64u(Buffer.concat([bytes, Buffer.from([0])])),
      b64u(Buffer.concat([Buffer.from([0]), bytes])),
      '',
    ]) {
      await refused(verifier.verify(`${h}.${p}.${variant}`), ['signature_invalid', 'malformed_token']);
    }
  });

  it('documents: the high-S twin (r, n − s) of a genuine ES256 signature verifies (WebCrypto accepts both); revocation by jti still covers it', async () => {
    const token = await ecIdp.issueAccessToken();
    const [h, p, sig] = parts(token);
    const { r, s } = ecParts('ES256', sig);
    const twin = `${h}.${p}.${ecSignature('ES256', r, CURVE_ORDER.ES256 - s)}`;
    const verifier = verifierFor(ecIdp);
    await expect(verifier.verify(twin)).resolves.toMatchObject({ payload: claimsOf(token) });
    await verifier.invalidate(token);
    await refused(verifier.verify(twin), 'revoked');
  });

  // Was a bug, fixed (src/core/revocation-list.ts, denylistKeyFor(): `sha256:` of the *whole token string* when
  // there is no jti; formerly src/core/revoker.ts). ECDSA signatures are malleable: (r, n − s) is a
  // second valid signature over the same header.payload, so an attacker holding a revoked jti-less
  // ES256 token computes the twin (one subtraction) and the verifier accepts it — its hash is not
  // on the denylist. Same for the base64url re-spellings below. Fix: hash the signing input
  // (`header.payload`) instead of the whole token; everything that verifies with the same signing
  // input carries the same claims.
  it('refuses the high-S twin of a revoked ES256 token that has no jti', async () => {
    const claims = standardClaims(ecIdp);
    delete claims.jti;
    const token = await signToken(claims, ecIdp.keys[0]!);
    const [h, p, sig] = parts(token);
    const { r, s } = ecParts('ES256', sig);
    const verifier = verifierFor(ecIdp);
    await verifier.verify(token);
    await verifier.invalidate(token);
    await refused(verifier.verify(token), 'revoked');
    await refused(verifier.verify(`${h}.${p}.${ecSignature('ES256', r, CURVE_ORDER.ES256 - s)}`), 'revoked');
  });
});

describe('duplicate JSON members: one parse, last member wins everywhere', () => {
  // jose parses header and payload once with JSON.parse (last duplicate wins); the allowlist, key
  // selection, claim checks, our own checks, the cache deadline, the returned result and
  // revocation's identify() all read that same parsed object. So a duplicate cannot make two
  // checks see two values. Producing one needs the genuine key; these tests use it.
  it('header {"alg":"RS256",…,"alg":"none"}: refused (the last alg is none)', async () => {
    const header = `{"alg":"RS256","kid":"${key.kid}","typ":"at+jwt","alg":"none"}`;
    await refused(verifierFor(idp).verify(genuine(header, standardClaims(idp))), 'algorithm_not_allowed');
    await refused(
      verifierFor(idp).verify(rawToken(JSON.parse(header) as object, standardClaims(idp))),
      'algorithm_not_allowed',
    );
  });

  it('documents: header {"alg":"none","alg":"RS256",…} over a genuine RS256 signature is accepted as RS256', async () => {
    const header = `{"alg":"none","alg":"RS256","kid":"${key.kid}","typ":"at+jwt"}`;
    const result = await verifierFor(idp).verify(genuine(header, standardClaims(idp)));
    expect(result.header.alg).toBe('RS256');
  });

  it('header with two kids: the last one selects the key', async () => {
    const verifier = verifierFor(idp);
    await expect(
      verifier.verify(genuine(`{"alg":"RS256","kid":"attacker","kid":"${key.kid}"}`, standardClaims(idp))),
    ).resolves.toMatchObject({
      header: { kid: key.kid },
    });
    await refused(
      verifier.verify(genuine(`{"alg":"RS256","kid":"${key.kid}","kid":"attacker"}`, standardClaims(idp))),
      'key_not_found',
    );
  });

  it('header with two typ under typ enforcement: the last one is checked', async () => {
    const verifier = verifierFor(idp, { typ: 'at+jwt' });
    await refused(
      verifier.verify(genuine(`{"alg":"RS256","kid":"${key.kid}","typ":"at+jwt","typ":"JWT"}`, standardClaims(idp))),
      'type_mismatch',
    );
    await expect(
      verifier.verify(genuine(`{"alg":"RS256","kid":"${key.kid}","typ":"JWT","typ":"at+jwt"}`, standardClaims(idp))),
    ).resolves.toBeDefined();
  });

  it('payload with two aud: the last one is checked and returned', async () => {
    const verifier = verifierFor(idp);
    const other = 'https://other.example/api';
    const ok = await verifier.verify(
      genuine(genuineHeader(), claimsWith(idp, 'aud', `"${other}","aud":"${idp.audience}"`)),
    );
    expect(ok.payload.aud).toBe(idp.audience);
    await refused(
      verifier.verify(genuine(genuineHeader(), claimsWith(idp, 'aud', `"${idp.audience}","aud":"${other}"`))),
      'audience_mismatch',
    );
  });

  it('payload with two iss: the last one is checked', async () => {
    const verifier = verifierFor(idp);
    await expect(
      verifier.verify(genuine(genuineHeader(), claimsWith(idp, 'iss', `"https://evil.example","iss":"${idp.issuer}"`))),
    ).resolves.toBeDefined();
    await refused(
      verifier.verify(genuine(genuineHeader(), claimsWith(idp, 'iss', `"${idp.issuer}","iss":"https://evil.example"`))),
      'issuer_mismatch',
    );
  });

  it('payload with two exp: the last one is checked and is also the cache deadline', async () => {
    const clock = testClock();
    const now = Math.floor(clock() / 1000);
    const verifier = verifierFor(idp, { clock, clockTolerance: 0 });
    await refused(
      verifier.verify(genuine(genuineHeader(), claimsWith(idp, 'exp', `${now + 600},"exp":${now - 600}`, {}, clock()))),
      'token_expired',
    );
    const token = genuine(genuineHeader(), claimsWith(idp, 'exp', `${now - 600},"exp":${now + 60}`, {}, clock()));
    expect((await verifier.verify(token)).payload.exp).toBe(now + 60);
    clock.advance(30_000);
    expect(verifier.peek(token)).toBeDefined();
    clock.advance(31_000);
    expect(verifier.peek(token)).toBeUndefined();
    await refused(verifier.verify(token), 'token_expired');
  });

  it('payload with two jti: revoke() and verify() agree on the last one', async () => {
    const verifier = verifierFor(idp);
    const token = genuine(genuineHeader(), claimsWith(idp, 'jti', '"first","jti":"second"'));
    expect((await verifier.verify(token)).payload.jti).toBe('second');
    await verifier.invalidate(token);
    await refused(verifier.verify(token), 'revoked');
    // A token carrying only the first jti is unaffected; only the last one was denylisted.
    await expect(verifier.verify(genuine(genuineHeader(), claimsWith(idp, 'jti', '"first"')))).resolves.toBeDefined();
  });

  it('payload with two sub: a subject cutoff applies to the last one', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    const token = genuine(genuineHeader(), claimsWith(idp, 'sub', '"alice","sub":"mallory"', {}, clock() - 10_000));
    expect((await verifier.verify(token)).payload.sub).toBe('mallory');
    await verifier.invalidateSubject('alice');
    await expect(verifier.verify(token)).resolves.toBeDefined();
    await verifier.invalidateSubject('mallory');
    await refused(verifier.verify(token), 'revoked');
  });

  it('a "__proto__" member is plain data: it grants no scope, supplies no exp, and pollutes nothing', async () => {
    const verifier = verifierFor(idp);
    const scoped = genuine(
      genuineHeader(),
      claimsWith(idp, '__proto__', '{"scope":"notes:write admin"}', { scope: 'notes:read' }),
    );
    const app = guardedApp(verifier);
    expect((await request(app).post('/notes').set('Authorization', `Bearer ${scoped}`)).status).toBe(403);
    expect((await request(app).get('/notes').set('Authorization', `Bearer ${scoped}`)).status).toBe(200);
    const noExp = genuine(
      genuineHeader(),
      claimsWith(idp, 'exp', undefined).replace(/}$/, `,"__proto__":{"exp":${nowSec() + 600}}}`),
    );
    await refused(verifier.verify(noExp), 'claim_missing');
    expect(({} as Record<string, unknown>).scope).toBeUndefined();
    expect(({} as Record<string, unknown>).exp).toBeUndefined();
  });
});

// client_id and azp name the client (RFC 9068 §2.2, OIDC) and are sent to the IdP as the client
// hint of a revocation: a string, or the token is refused. RFC 9068 makes client_id REQUIRED in
// at+jwt tokens; an app that enforces `typ: 'at+jwt'` gets that check too.
describe('client_id and azp: strings, and client_id required when typ at+jwt is enforced', () => {
  it.each([
    ['client_id', '42'],
    ['client_id', 'null'],
    ['client_id', 'true'],
    ['client_id', '{}'],
    ['client_id', '{"toString":"x"}'],
    ['client_id', '["my-client"]'],
    ['azp', '42'],
    ['azp', '["my-client"]'],
    ['azp', '{}'],
  ])('%s: %s → claim_invalid, whatever typ the app enforces', async (claim, literal) => {
    const token = genuine(genuineHeader(), claimsWith(idp, claim, literal));
    await refused(verifierFor(idp).verify(token), 'claim_invalid');
    await refused(verifierFor(idp, { typ: 'at+jwt' }).verify(token), 'claim_invalid');
  });

  it('a string client_id and azp are accepted', async () => {
    const token = genuine(genuineHeader(), claimsWith(idp, 'azp', '"my-client"', { client_id: 'my-client' }));
    await expect(verifierFor(idp, { typ: 'at+jwt' }).verify(token)).resolves.toMatchObject({
      payload: { client_id: 'my-client', azp: 'my-client' },
    });
  });

  it.each(['at+jwt', 'application/at+jwt', 'AT+JWT'])(
    "typ '%s' enforced: a token without client_id is refused (claim_missing)",
    async (typ) => {
      const token = genuine(genuineHeader(), claimsWith(idp, 'client_id', undefined));
      await refused(verifierFor(idp, { typ }).verify(token), 'claim_missing');
    },
  );

  it('typ not enforced: a token without client_id is still accepted (IdPs that send azp or cid instead)', async () => {
    const token = genuine(genuineHeader(), claimsWith(idp, 'client_id', undefined, { azp: 'spa' }));
    await expect(verifierFor(idp).verify(token)).resolves.toBeDefined();
  });

  it('oidc-provider access tokens carry client_id and verify with typ at+jwt enforced', async () => {
    const token = await idp.issueAccessToken();
    expect(claimsOf(token).client_id).toBe(idp.client.clientId);
    await expect(verifierFor(idp, { typ: 'at+jwt' }).verify(token)).resolves.toBeDefined();
  });
});

describe('NumericDate claims (RFC 7519 §2): odd numbers and wrong types', () => {
  // Literals are spliced into the JSON text: 1e999 parses to Infinity, which JSON.stringify
  // cannot produce. NOW is replaced by the current time in seconds.
  const refusedAs = (reason: RejectionReason | RejectionReason[]) => ({ reason });
  const cases: Array<[string, string, { reason: RejectionReason | RejectionReason[] } | 'accepted']> = [
    ['exp', '1e308', refusedAs('lifetime_too_long')],
    ['exp', '1e999', refusedAs('lifetime_too_long')],
    ['exp', '9007199254740993', refusedAs('lifetime_too_long')],
    ['exp', '-1', refusedAs('token_expired')],
    ['exp', '-0', refusedAs('token_expired')],
    ['exp', '0', refusedAs('token_expired')],
    ['exp', '-1e999', refusedAs('token_expired')],
    ['exp', '1.5', refusedAs('token_expired')],
    ['exp', '"123"', refusedAs('claim_invalid')],
    ['exp', '"NOW+600"', refusedAs('claim_invalid')],
    ['exp', 'null', refusedAs('claim_invalid')],
    ['exp', 'true', refusedAs('claim_invalid')],
    ['exp', '[NOW+600]', refusedAs('claim_invalid')],
    ['exp', '{}', refusedAs('claim_invalid')],
    ['exp', 'NOW+600.5', 'accepted'],
    ['nbf', '1e308', refusedAs('token_not_yet_valid')],
    ['nbf', '1e999', refusedAs('token_not_yet_valid')],
    ['nbf', 'NOW+300', refusedAs('token_not_yet_valid')],
    // A wrong type is refused; the reason says "not yet valid" because rejections.ts maps every nbf failure to it.
    ['nbf', '"123"', refusedAs(['claim_invalid', 'token_not_yet_valid'])],
    ['nbf', 'null', refusedAs(['claim_invalid', 'token_not_yet_valid'])],
    ['nbf', '-1', 'accepted'],
    ['nbf', '-1e999', 'accepted'],
    ['nbf', 'NOW-0.5', 'accepted'],
    ['iat', '1e308', refusedAs('issued_in_future')],
    ['iat', '1e999', refusedAs('issued_in_future')],
    ['iat', 'NOW+300', refusedAs('issued_in_future')],
    ['iat', '-1', refusedAs('lifetime_too_long')],
    ['iat', '-1e999', refusedAs('lifetime_too_long')],
    ['iat', '1.5', refusedAs('lifetime_too_long')],
    ['iat', '"123"', refusedAs('claim_invalid')],
    ['iat', 'null', refusedAs('claim_invalid')],
    ['iat', 'NOW-0.5', 'accepted'],
  ];

  it.each(cases)('%s: %s → %j', async (claim, literal, expected) => {
    const now = nowSec();
    const text = literal.replace(/NOW([+-][\d.]+)?/, (_m, delta: string | undefined) =>
      String(now + Number(delta ?? 0)),
    );
    const token = genuine(genuineHeader(), claimsWith(idp, claim, text));
    const verifier = verifierFor(idp);
    if (expected === 'accepted') await expect(verifier.verify(token)).resolves.toBeDefined();
    else {
      const error = await refused(verifier.verify(token), expected.reason);
      expect(error).toBeInstanceOf(InvalidTokenError);
      expect(verifier.stats().cache.size).toBe(0);
    }
  });
});

describe('audience and issuer (RFC 8725 §3.8, §3.9)', () => {
  it.each<[string, 'accepted' | RejectionReason, (aud: string) => unknown]>([
    ['an array containing ours', 'accepted', (aud) => ['https://other.example', aud]],
    ['an array with a non-string member and ours', 'accepted', (aud) => [123, aud]],
    ['an array without ours', 'audience_mismatch', () => ['https://a.example', 'https://b.example']],
    ['an empty array', 'audience_mismatch', () => []],
    ['a nested array', 'audience_mismatch', (aud) => [[aud]]],
    ['an object', 'audience_mismatch', (aud) => ({ 0: aud })],
    ['null', 'audience_mismatch', () => null],
    ['ours with a trailing slash', 'audience_mismatch', (aud) => `${aud}/`],
    ['ours upper-cased', 'audience_mismatch', (aud) => aud.toUpperCase()],
    ['ours with surrounding space', 'audience_mismatch', (aud) => ` ${aud}`],
    ['ours with a NUL suffix', 'audience_mismatch', (aud) => `${aud}\u0000`],
    ['a wildcard', 'audience_mismatch', () => '*'],
    ['another resource of the same IdP', 'audience_mismatch', (aud) => aud.replace(/notes-api$/, 'billing-api')],
  ])('aud as %s → %s', async (_name, expected, aud) => {
    const token = genuine(genuineHeader(), { ...standardClaims(idp), aud: aud(idp.audience) });
    if (expected === 'accepted') await expect(verifierFor(idp).verify(token)).resolves.toBeDefined();
    else await refused(verifierFor(idp).verify(token), expected);
  });

  it('refuses a token without aud (claim_missing)', async () => {
    const claims = standardClaims(idp);
    delete claims.aud;
    await refused(verifierFor(idp).verify(genuine(genuineHeader(), claims)), 'claim_missing');
  });

  it.each<[string, (iss: string) => unknown]>([
    ['with a trailing slash', (iss) => `${iss}/`],
    ['upper-cased', (iss) => iss.toUpperCase()],
    ['with an upper-case scheme', (iss) => iss.replace(/^http/, 'HTTP')],
    ['with localhost for 127.0.0.1', (iss) => iss.replace('127.0.0.1', 'localhost')],
    ['over https', (iss) => iss.replace(/^http:/, 'https:')],
    ['with a fragment', (iss) => `${iss}#`],
    ['with an empty query', (iss) => `${iss}?`],
    ['with a leading space', (iss) => ` ${iss}`],
    ['with a NUL suffix', (iss) => `${iss}\u0000`],
    ['as an array', (iss) => [iss]],
    ['null', () => null],
  ])('refuses iss %s, signed with the genuine key', async (_name, iss) => {
    await refused(
      verifierFor(idp).verify(genuine(genuineHeader(), { ...standardClaims(idp), iss: iss(idp.issuer) })),
      'issuer_mismatch',
    );
  });

  it('refuses a genuine token when the verifier is configured with a trailing-slash variant of the issuer', async () => {
    const verifier = verifierFor(idp, { issuer: `${idp.issuer}/`, jwksUri: `${idp.issuer}/jwks` });
    await refused(verifier.verify(await idp.issueAccessToken()), 'issuer_mismatch');
  });

  it('refuses a token for another resource of the same IdP, as a string or an array', async () => {
    const billing = `${idp.issuer}/billing-api`;
    const verifier = verifierFor(idp);
    await refused(verifier.verify(await signToken(standardClaims(idp, { aud: billing }), key)), 'audience_mismatch');
    await refused(
      verifier.verify(await signToken(standardClaims(idp, { aud: [billing, `${idp.issuer}/reports`] }), key)),
      'audience_mismatch',
    );
  });
});

describe('ID token presented as an access token (RFC 9068 §4, RFC 8725 §3.11)', () => {
  const idTokenClaims = () => {
    const iat = nowSec();
    return {
      iss: idp.issuer,
      sub: 'alice',
      aud: idp.client.clientId,
      azp: idp.client.clientId,
      nonce: 'n-0S6_WzA2Mj',
      auth_time: iat,
      iat,
      exp: iat + 3600,
    };
  };

  it("refuses an ID token (typ JWT or none, aud = client_id, nonce) when typ 'at+jwt' is enforced", async () => {
    const verifier = verifierFor(idp, { typ: 'at+jwt' });
    await refused(verifier.verify(await signToken(idTokenClaims(), key, { typ: 'JWT' })), 'type_mismatch');
    await refused(verifier.verify(genuine({ alg: 'RS256', kid: key.kid }, idTokenClaims())), 'type_mismatch');
  });

  it('refuses the same ID tokens without typ enforcement: the audience check protects (aud is the client_id)', async () => {
    const verifier = verifierFor(idp);
    await refused(verifier.verify(await signToken(idTokenClaims(), key, { typ: 'JWT' })), 'audience_mismatch');
    await refused(verifier.verify(genuine({ alg: 'RS256', kid: key.kid }, idTokenClaims())), 'audience_mismatch');
  });

  it("documents: an API whose audience equals a client_id accepts that client's ID tokens unless typ 'at+jwt' is enforced", async () => {
    const idToken = await signToken(idTokenClaims(), key, { typ: 'JWT' });
    await expect(verifierFor(idp, { audience: idp.client.clientId }).verify(idToken)).resolves.toBeDefined();
    await refused(verifierFor(idp, { audience: idp.client.clientId, typ: 'at+jwt' }).verify(idToken), 'type_mismatch');
  });

  it('accepts the RFC 9068 spellings of at+jwt under enforcement (application/at+jwt, case)', async () => {
    const verifier = verifierFor(idp, { typ: 'at+jwt' });
    for (const typ of ['at+jwt', 'application/at+jwt', 'AT+JWT']) {
      await expect(verifier.verify(await signToken(standardClaims(idp), key, { typ }))).resolves.toBeDefined();
    }
    await refused(verifier.verify(await signToken(standardClaims(idp), key, { typ: 'at+jwt; x' })), 'type_mismatch');
  });
});

describe('another IdP', () => {
  it('refuses tokens from a real second IdP whose key reuses our kid, and never refetches our JWKS for them', async () => {
    const fresh = await generateSigningKey('RS256');
    const impostorKey: SigningKey = { ...fresh, kid: key.kid, privateJwk: { ...fresh.privateJwk, kid: key.kid } };
    const other = await startIdp({ keys: [impostorKey] });
    closers.push(() => other.close());
    const verifier = verifierFor(idp);
    await verifier.verify(await idp.issueAccessToken());
    const foreign = await other.issueAccessToken();
    expect(JSON.parse(Buffer.from(parts(foreign)[0], 'base64url').toString())).toMatchObject({ kid: key.kid });
    await refused(verifier.verify(foreign), 'signature_invalid');
    // Re-labelled with our issuer and audience: still its key, still refused.
    await refused(verifier.verify(await signToken(standardClaims(idp), impostorKey)), 'signature_invalid');
    expect(verifier.stats().jwks.fetches).toBe(1);
  });

  it("never consults the discovery or keys of the issuer a token names (mix-up by a token's iss)", async () => {
    const attacker = await attackerKey('RS256');
    const evil = await startStubServer((req, res) =>
      req.url?.startsWith('/.well-known')
        ? sendJson(res, 200, { issuer: idp.issuer, jwks_uri: 'http://127.0.0.1:1/jwks' })
        : sendJson(res, 200, {
            keys: [{ ...(attacker.publicJwk as JWK), kid: 'attacker-key', alg: 'RS256', use: 'sig' }],
          }),
    );
    closers.push(() => evil.close());
    const token = await signToken(standardClaims(idp, { iss: evil.url }), attacker);
    await refused(verifierFor(idp).verify(token), ['key_not_found', 'issuer_mismatch']);
    expect(evil.requests).toHaveLength(0);
  });
});
