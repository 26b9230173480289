/**
 * The two signature backends agree (see backend-differential.ts): named attacks first, each with
 * the answer both must give, then fast-check-generated tokens (FUZZ_RUNS, default 3 000 here;
 * `npm run fuzz` runs 10⁵). A disagreement prints the token and both outcomes; FUZZ_SEED replays.
 */
import { constants, createHmac, createPublicKey, sign as nodeSign } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { defaultJwsBackend, jwsBackend } from '../../src/core/verify/jws-backend.js';
import {
  ASYMMETRIC,
  AUDIENCE,
  ecdsaSignatureEdits,
  type DifferentialContext,
  differentialContext,
  HMAC,
  ISSUER,
  NOW,
  type Outcome,
  outcomeOf,
  propertyBackendsAgree,
  type TestKey,
} from './backend-differential.js';
import { fuzzSettings } from './fuzz-properties.js';
import { b64u } from './helpers.js';

let ctx: DifferentialContext;
beforeAll(() => {
  ctx = differentialContext();
});

const key = (name: string): TestKey => ctx.keys.keys.find((k) => k.name === name)!;
const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', jti: 'j1', iat: NOW / 1000 - 10, exp: NOW / 1000 + 600 };
const SECRET = new TextEncoder().encode('differential-shared-secret-of-32+-bytes');

/** A token with this header, signed over its exact text by `signer` as `as` (default: header.alg). */
function token(
  header: Record<string, unknown>,
  signer: TestKey | 'secret' | Uint8Array,
  options: { as?: string; saltLength?: number; signature?: (bytes: Buffer) => Buffer; payload?: string } = {},
): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(options.payload ?? JSON.stringify(claims))}`;
  const as = options.as ?? (header.alg as string);
  const bits = as.slice(-3);
  const data = Buffer.from(input);
  let signature: Buffer;
  if (signer === 'secret' || signer instanceof Uint8Array)
    signature = createHmac(`sha${bits}`, signer === 'secret' ? SECRET : signer)
      .update(data)
      .digest();
  else if (as.startsWith('RS')) signature = nodeSign(`sha${bits}`, data, signer.privateKey);
  else if (as.startsWith('PS'))
    signature = nodeSign(`sha${bits}`, data, {
      key: signer.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: options.saltLength ?? Number(bits) / 8,
    });
  else if (as.startsWith('ES'))
    signature = nodeSign(`sha${bits}`, data, { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
  else signature = nodeSign(null, data, signer.privateKey);
  return `${input}.${b64u(options.signature?.(signature) ?? signature)}`;
}

/** Both backends' outcomes, checked equal; the node:crypto one is returned for the named expectation. */
async function agreed(jwt: string, algorithms: readonly string[] = [...ASYMMETRIC]): Promise<Outcome> {
  const [node, web] = ctx.checks(algorithms);
  const ours = await outcomeOf(node, jwt);
  expect(ours).toEqual(await outcomeOf(web, jwt));
  return ours;
}
const reason = async (jwt: string, algorithms?: readonly string[]) => {
  const { jwt: outcome } = await agreed(jwt, algorithms);
  return 'refused' in outcome ? outcome.refused : 'header' in outcome ? 'accepted' : outcome.threw;
};

describe('the backends', () => {
  it('node:crypto is available on Node and is what a new verifier uses', () => {
    expect(jwsBackend('node:crypto')?.name).toBe('node:crypto');
    expect(defaultJwsBackend().name).toBe('node:crypto');
  });
});

describe('named attacks: both backends give the same answer, and it is the right one', () => {
  it('genuine tokens of every algorithm family are accepted', async () => {
    expect(await reason(token({ alg: 'RS256', kid: 'rsa' }, key('rsa')))).toBe('accepted');
    expect(await reason(token({ alg: 'RS512', kid: 'rsa-3072' }, key('rsa-3072')))).toBe('accepted');
    expect(await reason(token({ alg: 'PS256', kid: 'rsa-any' }, key('rsa-any')))).toBe('accepted');
    expect(await reason(token({ alg: 'PS384', kid: 'rsa-pss' }, key('rsa-pss')))).toBe('accepted');
    expect(await reason(token({ alg: 'ES256', kid: 'p256' }, key('p256')))).toBe('accepted');
    expect(await reason(token({ alg: 'ES384', kid: 'p384' }, key('p384')))).toBe('accepted');
    expect(await reason(token({ alg: 'ES512', kid: 'p521' }, key('p521')))).toBe('accepted');
    expect(await reason(token({ alg: 'EdDSA', kid: 'ed' }, key('ed')))).toBe('accepted');
    expect(await reason(token({ alg: 'Ed25519', kid: 'ed' }, key('ed')))).toBe('accepted');
    expect(await reason(token({ alg: 'HS256' }, 'secret'), ['HS256'])).toBe('accepted');
  });

  it('alg none (any case) and algorithms outside the allowlist are refused', async () => {
    for (const alg of ['none', 'None', 'NONE'])
      expect(
        await reason(token({ alg: 'RS256', kid: 'rsa' }, key('rsa')).replace(/^[^.]+/, b64u(`{"alg":"${alg}"}`))),
      ).toBe('algorithm_not_allowed');
    expect(await reason(token({ alg: 'RS256', kid: 'rsa' }, key('rsa')), ['ES256'])).toBe('algorithm_not_allowed');
  });

  it('HMAC keyed with the public key: not allowed, or (HS allowed) only the configured secret verifies', async () => {
    const pem = createPublicKey(key('rsa').privateKey).export({ type: 'spki', format: 'pem' }) as string;
    const confused = token({ alg: 'HS256', kid: 'rsa' }, new TextEncoder().encode(pem));
    expect(await reason(confused)).toBe('algorithm_not_allowed');
    expect(await reason(confused, ['RS256', 'HS256'])).toBe('signature_invalid');
  });

  it('swapped algorithms, wrong curves and wrong key types find no key', async () => {
    expect(await reason(token({ alg: 'PS256', kid: 'rsa' }, key('rsa')))).toBe('key_not_found'); // JWK pins RS256
    expect(await reason(token({ alg: 'ES384', kid: 'p256' }, key('p384')))).toBe('key_not_found');
    expect(await reason(token({ alg: 'ES256', kid: 'rsa' }, key('p256')))).toBe('key_not_found');
    expect(await reason(token({ alg: 'EdDSA', kid: 'p256' }, key('ed')))).toBe('key_not_found');
    expect(await reason(token({ alg: 'RS256', kid: 'ed' }, key('rsa')))).toBe('key_not_found');
  });

  it('an RSA key under 2048 bits is refused even though the JWKS publishes it', async () => {
    expect(await reason(token({ alg: 'RS256', kid: 'rsa-short' }, key('rsa-short')))).toBe('malformed_token');
    expect(await reason(token({ alg: 'PS256', kid: 'rsa-short' }, key('rsa-short')))).toBe('malformed_token');
  });

  it('RSA-PSS: only salt length = hash length verifies', async () => {
    for (const saltLength of [0, 20, 47, 49, constants.RSA_PSS_SALTLEN_MAX_SIGN])
      expect(await reason(token({ alg: 'PS384', kid: 'rsa-pss' }, key('rsa-pss'), { saltLength }))).toBe(
        'signature_invalid',
      );
    expect(await reason(token({ alg: 'PS384', kid: 'rsa-pss' }, key('rsa-pss'), { saltLength: 48 }))).toBe('accepted');
  });

  it('RS signature under a PS header (and back) over the same RSA key fails', async () => {
    expect(await reason(token({ alg: 'PS256', kid: 'rsa-any' }, key('rsa-any'), { as: 'RS256' }))).toBe(
      'signature_invalid',
    );
    expect(await reason(token({ alg: 'RS256', kid: 'rsa-any' }, key('rsa-any'), { as: 'PS256' }))).toBe(
      'signature_invalid',
    );
  });

  it.each([
    ['ES256', 'p256', 'P-256', 32],
    ['ES384', 'p384', 'P-384', 48],
    ['ES512', 'p521', 'P-521', 66],
  ] as const)(
    '%s: zero r or s, r = n, DER, wrong length are refused; the high-S twin verifies in both',
    async (alg, kid, curve, size) => {
      const edits = ecdsaSignatureEdits(curve, size, 'signature_invalid', 'accepted');
      for (const [name, edit, expected] of edits) {
        expect([name, await reason(token({ alg, kid }, key(kid), { signature: edit }))]).toEqual([name, expected]);
      }
    },
  );

  it('Ed25519: a signature over another message, or with a bit flipped, fails', async () => {
    const other = token({ alg: 'EdDSA', kid: 'ed' }, key('ed'), { payload: '{"sub":"mallory"}' }).split('.')[2]!;
    const genuine = token({ alg: 'EdDSA', kid: 'ed' }, key('ed'));
    expect(await reason(genuine.replace(/[^.]+$/, other))).toBe('signature_invalid');
    expect(
      await reason(
        token({ alg: 'EdDSA', kid: 'ed' }, key('ed'), {
          signature: (sig) => Buffer.from(sig.map((b, i) => (i === 63 ? b ^ 0x80 : b))),
        }),
      ),
    ).toBe('signature_invalid');
  });

  it('crit and b64: unknown extensions unsupported, malformed crit and unencoded payloads refused', async () => {
    const rsa = key('rsa');
    expect(await reason(token({ alg: 'RS256', kid: 'rsa', crit: ['urn:x'], 'urn:x': 1 }, rsa))).toBe(
      'unsupported_token',
    );
    expect(await reason(token({ alg: 'RS256', kid: 'rsa', crit: ['b64'], b64: false }, rsa))).toBe('malformed_token');
    expect(await reason(token({ alg: 'RS256', kid: 'rsa', crit: [] }, rsa))).toBe('malformed_token');
    expect(await reason(token({ alg: 'RS256', kid: 'rsa', crit: ['b64'] }, rsa))).toBe('malformed_token');
    expect(await reason(token({ alg: 'RS256', kid: 'rsa', crit: ['b64'], b64: true }, rsa))).toBe('accepted');
    expect(await reason(token({ alg: 'RS256', kid: 'rsa', b64: false }, rsa))).toBe('accepted'); // not critical: ignored
  });

  it('non-canonical base64url spellings of a genuine token are refused, in every segment', async () => {
    const genuine = token({ alg: 'ES256', kid: 'p256' }, key('p256'));
    const segments = genuine.split('.');
    for (const [index, segment] of segments.entries()) {
      for (const variant of [
        `${segment}=`,
        `${segment}==`,
        ` ${segment}`,
        segment.replace(/-/g, '+').replace(/_/g, '/'),
      ]) {
        if (variant === segment) continue;
        const respelled = segments.map((s, i) => (i === index ? variant : s)).join('.');
        expect(await reason(respelled)).toBe('malformed_token');
      }
    }
  });

  it('a token without kid is tried against the first two keys that fit its alg, in JWKS order', async () => {
    // RS256 fits rsa, rsa-any, rsa-short, kidless-1, kidless-2 (in that order): only the first two are tried.
    expect(await reason(token({ alg: 'RS256' }, key('rsa')))).toBe('accepted');
    expect(await reason(token({ alg: 'RS256' }, key('rsa-any')))).toBe('accepted');
    expect(await reason(token({ alg: 'RS256' }, key('kidless-2')))).toBe('signature_invalid');
    expect(await reason(token({ alg: 'RS256' }, key('attacker-rsa')))).toBe('signature_invalid');
    // ES256 fits one key: no candidates to try, the one key decides.
    expect(await reason(token({ alg: 'ES256' }, key('p256')))).toBe('accepted');
  });

  it('a token signed by a key nobody publishes, under a published kid, fails its signature', async () => {
    expect(await reason(token({ alg: 'RS256', kid: 'rsa' }, key('attacker-rsa')))).toBe('signature_invalid');
    expect(await reason(token({ alg: 'ES256', kid: 'p256' }, key('attacker-p256')))).toBe('signature_invalid');
    expect(await reason(token({ alg: 'EdDSA', kid: 'ed' }, key('attacker-ed')))).toBe('signature_invalid');
  });
});

describe('generated tokens', () => {
  const settings = fuzzSettings(3_000, 20_261_201);

  it(`both backends agree on ${settings.numRuns} generated tokens, and the generator reaches every algorithm`, async () => {
    const tally = await propertyBackendsAgree(ctx, settings);
    expect(tally.cases).toBe(settings.numRuns);
    // Every algorithm's success path was exercised, and plenty of refusals of several kinds.
    for (const alg of [...ASYMMETRIC, ...HMAC])
      expect([alg, (tally.acceptedByAlg.get(alg) ?? 0) > 0]).toEqual([alg, true]);
    for (const refusal of ['signature_invalid', 'key_not_found', 'algorithm_not_allowed', 'malformed_token'])
      expect([refusal, (tally.outcomes.get(`refused ${refusal}`) ?? 0) > 0]).toEqual([refusal, true]);
  }, 120_000);
});
