/**
 * registered-claims.ts makes the claim checks jose's `jwtVerify` made, on our own parse. Held equal
 * to jose here: generated claims sets (odd types and values around every boundary) and rules, each
 * checked by both; they must agree on acceptance, on the error class, and on the claim and reason
 * it names (which decide the client's reason in rejections.ts).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { errors, jwtVerify } from 'jose';
import { toAuthError } from '../../../src/core/shared/rejections.js';
import {
  checkRegisteredClaims,
  decodeClaimsSet,
  type RegisteredClaimRules,
} from '../../../src/core/verify/registered-claims.js';
import { fuzzSettings } from '../../security/fuzz-properties.js';
import { b64u, signBytes } from '../../security/helpers.js';

const SECRET = new TextEncoder().encode('registered-claims-secret-of-32-bytes!');
const ISSUER = 'https://idp.example';
const AUDIENCE = 'https://api.example';
const NOW = 1_800_000_000_500; // half a second past a whole second: floor() matters

/** What a check made of a claims set: comparable across jose and ours. */
function describeOutcome(error: unknown): string {
  if (error === undefined) return 'accepted';
  const detail =
    error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired
      ? ` ${error.claim} ${error.reason}`
      : '';
  return `${(error as Error).constructor.name}${detail} → ${toAuthError(error).reason}`;
}

async function joseOutcome(header: object, payload: Uint8Array, rules: RegisteredClaimRules): Promise<string> {
  const input = `${b64u(JSON.stringify({ alg: 'HS256', ...header }))}.${b64u(payload)}`;
  const token = `${input}.${signBytes('HS256', SECRET, input)}`;
  try {
    await jwtVerify(token, SECRET, {
      algorithms: ['HS256'],
      issuer: rules.issuer,
      audience: rules.audience as string | string[],
      clockTolerance: rules.clockTolerance,
      ...(rules.requiredClaims ? { requiredClaims: [...rules.requiredClaims] } : {}),
      ...(rules.typ !== undefined ? { typ: rules.typ } : {}),
      ...(rules.maxTokenAge !== undefined ? { maxTokenAge: rules.maxTokenAge } : {}),
      currentDate: new Date(NOW),
    });
    return describeOutcome(undefined);
  } catch (error) {
    return describeOutcome(error);
  }
}

function ourOutcome(header: object, payload: Uint8Array, rules: RegisteredClaimRules): string {
  try {
    checkRegisteredClaims(header, decodeClaimsSet(payload), rules, NOW);
    return describeOutcome(undefined);
  } catch (error) {
    return describeOutcome(error);
  }
}

const seconds = Math.floor(NOW / 1000);
/** NumericDate candidates around now ± tolerance ± a second, and values of other types. */
const date = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: -6, max: 6 }).map((d) => seconds + d) },
  { weight: 2, arbitrary: fc.integer({ min: -32, max: 32 }).map((d) => seconds + d) },
  { weight: 2, arbitrary: fc.double({ min: seconds - 12, max: seconds + 12, noNaN: true }) },
  { weight: 2, arbitrary: fc.integer({ min: -4000, max: 4000 }).map((d) => seconds + d) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(0, -1, 1e308, '1', null, true, [seconds], {}, seconds.toString()),
  },
);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 }) as fc.Arbitrary<T | undefined>;

const audienceMisses = fc.constantFrom<unknown>(
  ['x'],
  [],
  'x',
  null,
  { 0: AUDIENCE },
  [[AUDIENCE]],
  'https://second.example',
);

const claimsSet = fc.record(
  {
    iss: fc.oneof(
      { weight: 8, arbitrary: fc.constant<unknown>(ISSUER) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(`${ISSUER}/`, 'https://evil.example', null, [ISSUER]) },
    ),
    aud: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom<unknown>(AUDIENCE, [AUDIENCE], ['x', AUDIENCE]) },
      { weight: 2, arbitrary: audienceMisses },
    ),
    exp: date,
    nbf: date,
    iat: date,
    sub: fc.constantFrom<unknown>('alice', 7),
    jti: fc.constantFrom<unknown>('j', ''),
  },
  { requiredKeys: [] },
);

const payloadBytes = fc.oneof(
  { weight: 20, arbitrary: claimsSet.map((c) => new TextEncoder().encode(JSON.stringify(c))) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      new TextEncoder().encode('[]'),
      new TextEncoder().encode('"claims"'),
      new TextEncoder().encode('null'),
      new TextEncoder().encode('{"a":'),
      new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
      new TextEncoder().encode('{"__proto__":{"iss":"x"},"iss":"https://idp.example"}'),
    ),
  },
);

const rules: fc.Arbitrary<RegisteredClaimRules> = fc.record(
  {
    issuer: fc.constant(ISSUER),
    audience: fc.constantFrom<string | string[]>(AUDIENCE, [AUDIENCE, 'https://second.example']),
    clockTolerance: fc.constantFrom(0, 1, 5, 30),
    requiredClaims: maybe(fc.subarray(['exp', 'iat', 'nbf', 'sub', 'jti', 'events'])),
    typ: maybe(fc.constantFrom('at+jwt', 'application/at+jwt', 'JWT', 'logout+jwt')),
    maxTokenAge: maybe(fc.constantFrom(0, 1, 3, 10, 3600)),
  },
  { requiredKeys: ['issuer', 'audience', 'clockTolerance'] },
);

const header = fc.record(
  { typ: fc.constantFrom<unknown>('at+jwt', 'AT+JWT', 'application/at+jwt', 'JWT', 'jwt', 'logout+jwt', 1, null) },
  { requiredKeys: [] },
);

describe('registered claims: ours and jose agree', () => {
  const settings = fuzzSettings(2_000, 20_261_202);

  it(`on ${settings.numRuns} generated claims sets and rules`, async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(header, payloadBytes, rules, async (h, payload, r) => {
        const jose = await joseOutcome(h, payload, r);
        expect(ourOutcome(h, payload, r)).toBe(jose);
        const summary = jose.split(' → ')[1] ?? jose;
        seen.set(summary, (seen.get(summary) ?? 0) + 1);
      }),
      { numRuns: settings.numRuns, ...(settings.seed !== undefined ? { seed: settings.seed } : {}) },
    );
    // The generator reaches acceptance and every reason these checks can give.
    for (const reason of [
      'accepted',
      'malformed_token',
      'claim_missing',
      'claim_invalid',
      'issuer_mismatch',
      'audience_mismatch',
      'token_expired',
      'token_not_yet_valid',
      'type_mismatch',
    ])
      expect([reason, (seen.get(reason) ?? 0) > 0]).toEqual([reason, true]);
  }, 60_000);

  it('boundaries: exp at now − tolerance is expired, nbf at now + tolerance is valid (whole seconds)', () => {
    const rule: RegisteredClaimRules = { issuer: ISSUER, audience: AUDIENCE, clockTolerance: 5 };
    const at = (claims: object) =>
      ourOutcome({}, new TextEncoder().encode(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, ...claims })), rule);
    expect(at({ exp: seconds - 5 })).toBe('JWTExpired exp check_failed → token_expired');
    expect(at({ exp: seconds - 4.5 })).toBe('accepted');
    expect(at({ nbf: seconds + 5 })).toBe('accepted');
    expect(at({ nbf: seconds + 5.5 })).toBe('JWTClaimValidationFailed nbf check_failed → token_not_yet_valid');
  });
});
