/**
 * Attack pass on the miss-path speed-ups (the revocation digest taken on first need, the key found
 * by frozen header identity, ids encoded with one scan, deepFreeze recursing only into objects,
 * RS256 on the bare KeyObject, the shared b64token/JWS alphabet scan). Each of them trades a step
 * for an argument that the step was not needed; each test here presents what the argument must
 * hold for, and fails if a later change breaks it.
 */
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as nodeCrypto from 'node:crypto';
import { type CryptoKey, createLocalJWKSet, type JWK, type JWSHeaderParameters, SignJWT } from 'jose';
import { KeySelection } from '../../src/core/idp/key-selection.js';
import { assertB64Token } from '../../src/core/request/bearer.js';
import { cutoffKeyOf, denylistKeyFor, revocationKeysFor } from '../../src/core/revoke/revocation-identity.js';
import { RevocationList } from '../../src/core/revoke/revocation-list.js';
import { digestKey, tokenDigestOf, tokenDigestWords } from '../../src/core/shared/token-digest.js';
import { type NodeCrypto, NodeCryptoKeys } from '../../src/core/verify/node-crypto-keys.js';
import { checkShape, hasJwsAlphabet } from '../../src/core/verify/token-shape.js';
import type { Verifier } from '../../src/index.js';
import { testClock } from '../support/idp.js';
import { createHmacVerifier } from '../support/hmac-verifier.js';

const SECRET = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const AUD = 'https://api.example';
const ISSUER = 'http://127.0.0.1:9/attack-14';
const T0 = 1_800_000_000_000;

const open: Verifier[] = [];
afterEach(async () => {
  for (const verifier of open.splice(0)) await verifier.close();
});

function hmacVerifier(clock: ReturnType<typeof testClock>) {
  const made = createHmacVerifier({ issuer: ISSUER, audience: AUD, secret: SECRET }, clock);
  open.push(made.verifier);
  return made;
}

function sign(clock: () => number, claims: Record<string, unknown>): Promise<string> {
  const iat = Math.floor(clock() / 1000);
  return new SignJWT({ sub: 'alice', iss: ISSUER, aud: AUD, iat, exp: iat + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(SECRET);
}

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: { reason?: string }) => error.reason ?? String(error),
  );

/** A token revocation as another instance (or a mirror healing the store) sends it: by digest alone. */
const byDigest = (token: string, expiresAt: number) =>
  ({ type: 'token', key: digestKey(tokenDigestOf(denylistKeyFor(token, ISSUER))), expiresAt }) as const;

/** Lets the store's listeners and the mirror run (the memory store delivers synchronously on publish). */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('the revocation digest, taken only once the list holds token revocations', () => {
  it('a token cached while none were held is refused once one arrives by digest from another instance', async () => {
    const clock = testClock(T0);
    const { verifier, store } = hmacVerifier(clock);
    const revoked = await sign(clock, { jti: 'cached-then-revoked' });
    const kept = await sign(clock, { jti: 'cached-and-kept' });
    // Admitted and cached while the list holds no token revocation: no digest was taken for them.
    expect(await outcome(verifier.verify(revoked))).toBe('accepted');
    expect(await outcome(verifier.verify(kept))).toBe('accepted');
    expect(verifier.stats().revocation.denylisted).toBe(0);
    await store.publish(byDigest(revoked, clock() + 60_000), 'another-instance');
    await settled();
    expect(verifier.stats().revocation.denylisted).toBe(1);
    expect(await outcome(verifier.verify(revoked))).toBe('revoked');
    expect(await outcome(verifier.verify(kept))).toBe('accepted');
    // A token never seen before, revoked by digest: refused on its miss too.
    const fresh = await sign(clock, { jti: 'never-seen' });
    await store.publish(byDigest(fresh, clock() + 60_000), 'another-instance');
    await settled();
    expect(await outcome(verifier.verify(fresh))).toBe('revoked');
  });

  it('keys read while the list held revocations still find one after it emptied (swept) and filled again', () => {
    const list = new RevocationList();
    const keysOf = (jti: string) => revocationKeysFor({ token: 'a.b.c', payload: { iss: ISSUER, jti }, source: 'jwt' });
    const held = keysOf('held');
    const other = keysOf('other');
    const revoke = (jti: string, expiresAt: number) =>
      list.apply({ type: 'token', key: keysOf(jti).denylist, expiresAt });
    revoke('other', T0 + 1_000);
    expect(list.isRevoked(held, 1, T0)).toBe(false); // its digest read now
    expect(list.isRevoked(other, 1, T0)).toBe(true);
    expect(list.sweep(T0 + 2_000)).toBe(1);
    expect(list.size.tokens).toBe(0);
    expect(list.isRevoked(other, 1, T0 + 2_000)).toBe(false);
    // Revoked again after the table went back to empty: by key, and by digest alone.
    revoke('held', T0 + 10_000);
    expect(list.isRevoked(held, 1, T0 + 2_000)).toBe(true);
    list.apply({ type: 'token', key: digestKey(tokenDigestOf(other.denylist)), expiresAt: T0 + 10_000 });
    expect(list.isRevoked(other, 1, T0 + 2_000)).toBe(true);
    expect(list.isRevoked(keysOf('third'), 1, T0 + 2_000)).toBe(false);
  });

  it('the keys of one token agree on every read, whatever was read first', () => {
    const make = () =>
      revocationKeysFor({ token: 'a.b.c', payload: { iss: ISSUER, jti: 'j', sub: 's' }, source: 'jwt' });
    const first = make();
    const second = make();
    // toEqual does not see a getter: the digest compared on its own, read twice on one object.
    expect(first.digest).toEqual(tokenDigestWords(first.denylist));
    expect(first.digest).toBe(first.digest);
    expect(Array.from(first.digest)).toEqual(Array.from(second.digest));
    expect(Array.from(first.digest)).not.toEqual(
      Array.from(revocationKeysFor({ token: 'a.b.c', payload: { iss: ISSUER, jti: 'k' }, source: 'jwt' }).digest),
    );
  });
});

describe('ids encoded with one scan', () => {
  const reference = (id: string) => encodeURIComponent(id);
  const keysOf = (sub: string, sid = sub) =>
    revocationKeysFor({ token: 'a.b.c', payload: { iss: ISSUER, sub, sid, jti: sub } as never, source: 'jwt' });

  it('every ASCII character, alone and around unreserved ones, is keyed as encodeURIComponent spells it', () => {
    const iss = encodeURIComponent(ISSUER);
    for (let code = 0; code < 128; code++) {
      const c = String.fromCharCode(code);
      for (const id of [c, `a${c}`, `${c}z`, `k-${c}${c}-9`]) {
        const keys = keysOf(id);
        expect([id, keys.subject]).toEqual([id, `subject:${iss}:${reference(id)}`]);
        expect([id, keys.session]).toEqual([id, `session:${iss}:${reference(id)}`]);
        expect([id, keys.denylist]).toEqual([id, `jti:${iss}:${reference(id)}`]);
        expect(cutoffKeyOf({ type: 'subject', issuer: ISSUER, subject: id, cutoff: 1, expiresAt: 2 })).toBe(
          keys.subject,
        );
      }
    }
  });

  it('an id spelled like the encoding of another gets a key of its own', () => {
    for (const [one, two] of [
      ['a:b', 'a%3Ab'],
      ['a b', 'a%20b'],
      ['%', '%25'],
      ['é', '%C3%A9'],
      ['a+b', 'a%2Bb'],
    ]) {
      expect([one, two, keysOf(one!).subject]).not.toEqual([one, two, keysOf(two!).subject]);
      expect([one, two, keysOf(one!).denylist]).not.toEqual([one, two, keysOf(two!).denylist]);
    }
  });

  it('a lone surrogate is refused wherever it sits, among unreserved characters too', () => {
    for (const id of ['\ud800', 'abc\ud800', '\udfffabc', "a-b_c.d!e~f*g'h(i)\ud83d", '\ud83d\ud83d']) {
      expect(() => keysOf(id)).toThrow(expect.objectContaining({ reason: 'claim_invalid' }));
      expect(() =>
        revocationKeysFor({ token: 'a.b.c', payload: { iss: ISSUER, sid: id } as never, source: 'jwt' }),
      ).toThrow(expect.objectContaining({ reason: 'claim_invalid' }));
    }
    // A whole pair is a character like any other.
    expect(keysOf('\ud83d\ude00').subject).toBe(`subject:${encodeURIComponent(ISSUER)}:%F0%9F%98%80`);
  });

  it('through the verifier: revoking the token with jti "a:b" leaves the one with jti "a%3Ab" accepted', async () => {
    const clock = testClock(T0);
    const { verifier } = hmacVerifier(clock);
    const plain = await sign(clock, { jti: 'a:b', sub: 'x y' });
    const spelled = await sign(clock, { jti: 'a%3Ab', sub: 'x%20y' });
    expect(await outcome(verifier.verify(spelled))).toBe('accepted');
    await verifier.invalidate(plain);
    expect(await outcome(verifier.verify(plain))).toBe('revoked');
    expect(await outcome(verifier.verify(spelled))).toBe('accepted');
    await verifier.invalidateSubject('x y');
    expect(await outcome(verifier.verify(spelled))).toBe('accepted');
    await verifier.invalidateSubject('x%20y');
    expect(await outcome(verifier.verify(spelled))).toBe('revoked');
  });
});

describe('a verified token is frozen all the way down (deepFreeze recurses only into objects)', () => {
  it('arrays, objects in arrays, nested objects and cnf: nothing a request can change for the next one', async () => {
    const clock = testClock(T0);
    const { verifier } = hmacVerifier(clock);
    const token = await sign(clock, {
      jti: 'frozen',
      roles: ['reader', { name: 'writer', scopes: ['a', 'b'] }],
      realm_access: { roles: ['admin'], nested: { deeper: [[1, 2], { x: 'y' }] } },
      cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' },
    });
    const first = await verifier.verify(token);
    const second = await verifier.verify(token); // the cached entry
    const unfrozen: string[] = [];
    const walk = (value: unknown, path: string) => {
      if (typeof value !== 'object' || value === null) return;
      if (!Object.isFrozen(value)) unfrozen.push(path);
      for (const [key, member] of Object.entries(value)) walk(member, `${path}.${key}`);
    };
    walk(first, 'first');
    walk(second, 'second');
    expect(unfrozen).toEqual([]);
    const payload = second.payload as { roles: unknown[]; realm_access: { nested: { deeper: unknown[][] } } };
    expect(() => payload.roles.push('admin')).toThrow(TypeError);
    expect(() => payload.realm_access.nested.deeper[0]!.push(3)).toThrow(TypeError);
  });
});

describe('KeySelection: keys remembered by frozen header object', () => {
  let jwks: JWK[];
  beforeAll(() => {
    const jwk = (kid: string) => ({
      ...(nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK),
      kid,
      use: 'sig',
    });
    jwks = [jwk('a'), jwk('b'), { ...jwk('c'), alg: 'ES256' }];
  });
  const token = { payload: '', signature: '' };

  it('answers each frozen header with the key of its own alg and kid, never one remembered for another', async () => {
    const selection = new KeySelection(jwks);
    const reference = createLocalJWKSet({ keys: jwks });
    const headers = ['a', 'b', 'c'].map((kid) => Object.freeze({ alg: 'ES256', kid }));
    for (const header of headers) await selection.select(header, token);
    for (let round = 0; round < 2; round++) {
      // Round 0 fills the identity memo from the string memo; round 1 is answered by identity.
      for (const header of headers) {
        const known = selection.known(header, token)!;
        expect(known).toBeDefined();
        const expected = await reference(header, token);
        expect((known as CryptoKey).algorithm).toEqual(expected.algorithm);
        expect(known).toBe(await selection.select({ ...header }, token));
      }
      expect(selection.known(headers[0]!, token)).not.toBe(selection.known(headers[1]!, token));
    }
    // An unprotected header may name its own kid: never answered from the memo, frozen or not.
    expect(selection.known(headers[0]!, { ...token, header: { kid: 'b' } })).toBeUndefined();
  });

  it('a header not frozen is never answered by identity: changed after a look-up, it gets its new key', async () => {
    const selection = new KeySelection(jwks);
    for (const kid of ['a', 'b']) await selection.select({ alg: 'ES256', kid }, token);
    const header: JWSHeaderParameters = { alg: 'ES256', kid: 'a' };
    const forA = selection.known(header, token);
    header.kid = 'b';
    const forB = selection.known(header, token);
    expect(forA).toBeDefined();
    expect(forB).toBe(selection.known({ alg: 'ES256', kid: 'b' }, token));
    expect(forB).not.toBe(forA);
    header.kid = 'nobody';
    expect(selection.known(header, token)).toBeUndefined();
  });

  it('a frozen header another set remembered is not answered by this one (each set has its own memo)', async () => {
    const header = Object.freeze({ alg: 'ES256', kid: 'a' }) as JWSHeaderParameters;
    const before = new KeySelection(jwks);
    const rotated = new KeySelection([{ ...jwks[1]!, kid: 'a' }]);
    await before.select(header, token);
    const old = before.known(header, token);
    expect(old).toBeDefined();
    expect(rotated.known(header, token)).toBeUndefined();
    const now = await rotated.select(header, token);
    expect(rotated.known(header, token)).toBe(now);
    expect(now).not.toBe(old);
    expect(before.known(header, token)).toBe(old);
  });

  it('the identity memo starts over with the string memo: it never answers what that one forgot', async () => {
    const many: JWK[] = [];
    for (let i = 0; i < 70; i++) many.push({ ...jwks[0]!, kid: `k${i}` });
    const selection = new KeySelection(many);
    const first = Object.freeze({ alg: 'ES256', kid: 'k0' });
    await selection.select(first, token);
    expect(selection.known(first, token)).toBeDefined(); // now held by identity as well
    for (let i = 1; i < 70; i++) await selection.select({ alg: 'ES256', kid: `k${i}` }, token);
    expect(selection.known({ alg: 'ES256', kid: 'k0' }, token)).toBeUndefined();
    expect(selection.known(first, token)).toBeUndefined();
  });
});

describe('RS256 on the bare KeyObject, PS256 with its padding spelled out', () => {
  const data = Buffer.from('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0');
  const pkcs1 = (key: nodeCrypto.KeyObject) => nodeCrypto.sign('sha256', data, key);
  const pss = (key: nodeCrypto.KeyObject) =>
    nodeCrypto.sign('sha256', data, { key, padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  let rsa: nodeCrypto.KeyPairKeyObjectResult;
  beforeAll(() => {
    rsa = nodeCrypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  });
  const imported = (name: string) =>
    nodeCrypto.webcrypto.subtle.importKey(
      'jwk',
      rsa.publicKey.export({ format: 'jwk' }),
      { name, hash: 'SHA-256' },
      true,
      ['verify'],
    ) as Promise<unknown> as Promise<CryptoKey>;

  it('each algorithm takes its own padding only, from a CryptoKey and from a JWK', async () => {
    const keys = new NodeCryptoKeys(nodeCrypto as unknown as NodeCrypto);
    const rs256 = keys.verifierFor('RS256', await imported('RSASSA-PKCS1-v1_5'));
    const ps256 = keys.verifierFor('PS256', await imported('RSA-PSS'));
    expect([rs256(data, pkcs1(rsa.privateKey)), rs256(data, pss(rsa.privateKey))]).toEqual([true, false]);
    expect([ps256(data, pss(rsa.privateKey)), ps256(data, pkcs1(rsa.privateKey))]).toEqual([true, false]);
    const jwk = rsa.publicKey.export({ format: 'jwk' }) as Record<string, string>;
    const rsJwk = keys.verifierForJwk('RS256', jwk);
    const psJwk = keys.verifierForJwk('PS256', jwk);
    expect([rsJwk(data, pkcs1(rsa.privateKey)), rsJwk(data, pss(rsa.privateKey))]).toEqual([true, false]);
    expect([psJwk(data, pss(rsa.privateKey)), psJwk(data, pkcs1(rsa.privateKey))]).toEqual([true, false]);
  });

  it("an 'rsa-pss' KeyObject under RS256 never checks a PSS signature (node's default for such a key)", async () => {
    const pssPair = nodeCrypto.generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
    // A node:crypto whose KeyObject.from hands back an 'rsa-pss' key: what the bare-key branch must not take.
    const crypto = {
      ...nodeCrypto,
      constants: nodeCrypto.constants,
      KeyObject: { from: () => pssPair.publicKey },
    } as unknown as NodeCrypto;
    const rs256 = new NodeCryptoKeys(crypto).verifierFor('RS256', await imported('RSASSA-PKCS1-v1_5'));
    const signature = nodeCrypto.sign('sha256', data, { key: pssPair.privateKey, saltLength: 32 });
    expect(nodeCrypto.verify('sha256', data, pssPair.publicKey, signature)).toBe(true); // a genuine PSS signature
    expect(rs256(data, signature)).toBe(false);
  });
});

describe('the JWS alphabet scan remembered for the b64token check', () => {
  const jws = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
  const answer = (token: string) => {
    try {
      assertB64Token(token);
      return 'b64token';
    } catch (error) {
      return (error as { reason?: string }).reason ?? String(error);
    }
  };
  const shape = (token: string) => {
    try {
      checkShape(token, 8_192);
      return 'jws';
    } catch (error) {
      return (error as { reason?: string }).reason ?? String(error);
    }
  };

  it('a neighbour of the remembered token gets its own answer, in either order', () => {
    const neighbours: Array<[string, string, string]> = [
      [`${jws}~`, 'b64token', 'malformed_token'],
      [`${jws}+`, 'b64token', 'malformed_token'],
      [`${jws}/`, 'b64token', 'malformed_token'],
      [`${jws}=`, 'b64token', 'malformed_token'],
      [`${jws}==`, 'b64token', 'malformed_token'],
      [`~${jws}`, 'b64token', 'malformed_token'],
      [`${jws}%`, 'malformed_request', 'malformed_token'],
      [`${jws} `, 'malformed_request', 'malformed_token'],
      [`${jws}\n`, 'malformed_request', 'malformed_token'],
      [`${jws}=x`, 'malformed_request', 'malformed_token'],
      [jws.slice(0, -1), 'b64token', 'malformed_token'], // 'c2l': a last character with spare bits
      [`${jws}.`, 'b64token', 'malformed_token'],
    ];
    for (const [token, bearer, parsed] of neighbours) {
      for (const before of [jws, token]) {
        // The memo holds `jws` (or nothing new) when the neighbour is asked.
        answer(before);
        shape(before);
        expect([token, answer(token), shape(token)]).toEqual([token, bearer, parsed]);
        expect([token, hasJwsAlphabet(token)]).toEqual([
          token,
          /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token),
        ]);
      }
      expect([answer(jws), shape(jws), hasJwsAlphabet(jws)]).toEqual(['b64token', 'jws', true]);
    }
  });

  it('the same characters built anew get the same answer (the memo compares content)', () => {
    expect(hasJwsAlphabet(jws)).toBe(true);
    const rebuilt = [jws.slice(0, 10), jws.slice(10)].join('');
    expect(hasJwsAlphabet(rebuilt)).toBe(true);
    expect(hasJwsAlphabet(`${rebuilt.slice(0, -1)}+`)).toBe(false);
    expect(hasJwsAlphabet(jws)).toBe(true);
  });
});
