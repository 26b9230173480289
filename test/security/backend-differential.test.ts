/**
 * The two signature backends agree (see backend-differential.ts): named attacks first, each with
 * the answer both must give (ACCESS_TOKEN_ATTACKS, one test per group), then fast-check-generated
 * tokens (FUZZ_RUNS, default 3 000 here; `npm run fuzz` runs 10⁵). A disagreement prints the token
 * and both outcomes; FUZZ_SEED replays. The same corpus runs on every pinned Node, Bun and Deno in
 * `npm run test:runtimes` (test/runtimes/differential-entry.ts).
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { defaultJwsBackend, jwsBackend } from '../../src/core/verify/jws-backend.js';
import {
  ACCESS_TOKEN_ATTACKS,
  ASYMMETRIC,
  type DifferentialContext,
  differentialContext,
  HMAC,
  isOffCurveEcJwk,
  outcomeOf,
  propertyBackendsAgree,
  type TestKey,
  verdictOf,
} from './backend-differential.js';
import { fuzzSettings } from './fuzz-properties.js';

let ctx: DifferentialContext;
beforeAll(() => {
  ctx = differentialContext();
});

const key = (name: string): TestKey => ctx.keys.keys.find((k) => k.name === name)!;

describe('the backends', () => {
  it('node:crypto is available on Node and is what a new verifier uses', () => {
    expect(jwsBackend('node:crypto')?.name).toBe('node:crypto');
    expect(defaultJwsBackend().name).toBe('node:crypto');
  });
});

describe('the known deviations the runtime differential may pin', () => {
  it('tells an EC key moved off its curve from genuine keys of every curve (Deno’s WebCrypto imports it)', () => {
    for (const name of ['p256', 'p384', 'p521', 'attacker-p256', 'rsa', 'ed'])
      expect([name, isOffCurveEcJwk(key(name).publicJwk ?? key(name).privateKey.export({ format: 'jwk' }))]).toEqual([
        name,
        false,
      ]);
    expect(isOffCurveEcJwk(key('p256-off-curve').publicJwk)).toBe(true);
    // Not a well-formed key at all (a short coordinate): not this deviation.
    const { x, ...rest } = key('p256-off-curve').publicJwk!;
    expect(isOffCurveEcJwk({ ...rest, x: x!.slice(2) })).toBe(false);
  });
});

describe('named attacks: both backends give the same answer, and it is the right one', () => {
  it.each(ACCESS_TOKEN_ATTACKS.map((group) => [group.title, group] as const))('%s', async (_title, group) => {
    const attacks = group.cases(key);
    expect(attacks.length).toBeGreaterThan(0);
    for (const attack of attacks) {
      const [node, web] = ctx.checks(attack.algorithms ?? ASYMMETRIC);
      const ours = await outcomeOf(node, attack.token);
      expect([attack.name, ours]).toEqual([attack.name, await outcomeOf(web, attack.token)]);
      expect([attack.name, verdictOf(ours)]).toEqual([attack.name, attack.expected]);
    }
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
