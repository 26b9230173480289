/**
 * The fuzz properties of test/security/fuzz.test.ts with many more runs, outside jest:
 *
 *   node --import tsx test/security/fuzz-long.ts            # 20 000 runs per property
 *   FUZZ_RUNS=200000 node --import tsx test/security/fuzz-long.ts
 *   FUZZ_SEED=123456 FUZZ_RUNS=1 node --import tsx test/security/fuzz-long.ts   # replay a seed
 *
 * Then the node:crypto and WebCrypto signature backends on at least 10⁵ generated access tokens
 * (backend-differential.ts) and at least 10⁵ mutated DPoP proofs (dpop-differential.ts): FUZZ_RUNS
 * above 10⁵ raises both.
 *
 * Exits 1 when a property that must hold fails (fast-check prints the seed, path and shrunk
 * counterexample). The strict "only byte-identical tokens verify" property is known to fail
 * (see fuzz.test.ts); it is run last and reported, and only flagged if it unexpectedly passes.
 */
import { differentialContext, propertyBackendsAgree } from './backend-differential.js';
import { DPOP_ANSWERS_REACHED, dpopDifferentialContext, propertyDpopBackendsAgree } from './dpop-differential.js';
import {
  fuzzSettings,
  propertyGarbageIsRejectedTyped,
  propertyGuardNeverFails,
  propertyGuardOverHttpNeverFails,
  propertyMutationsNeverForge,
  propertyOnlyExactTokensVerify,
  setupFuzzContext,
  type FuzzContext,
  type FuzzSettings,
} from './fuzz-properties.js';

const settings = fuzzSettings(20_000);
const properties: Array<[string, (ctx: FuzzContext, settings: FuzzSettings) => Promise<void>]> = [
  ['verify() rejects arbitrary strings, only with AuthErrors', propertyGarbageIsRejectedTyped],
  ['verify() never accepts altered header/claims of a genuine token', propertyMutationsNeverForge],
  ['authGuard (direct) calls next() once, AuthErrors only, no 5xx', propertyGuardNeverFails],
  ['authGuard over HTTP never answers 5xx', (ctx, s) => propertyGuardOverHttpNeverFails(ctx, s, 0.1)],
];

const ctx = await setupFuzzContext();
let failed = 0;
console.log(
  `fuzz-long: ${settings.numRuns} runs per property${settings.seed !== undefined ? `, seed ${settings.seed}` : ''}`,
);
try {
  for (const [name, property] of properties) {
    const started = performance.now();
    try {
      await property(ctx, settings);
      console.log(`  ok    ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    } catch (error) {
      failed += 1;
      console.log(`  FAIL  ${name}\n${error instanceof Error ? error.message : String(error)}`);
    }
  }
  try {
    await propertyOnlyExactTokensVerify(ctx, { ...settings, numRuns: Math.min(settings.numRuns, 1_000) });
    console.log('  ok    only byte-identical tokens (or an ECDSA twin) verify');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.log(
      '  known ("only byte-identical tokens verify"): non-canonical signature spellings / ECDSA twins still verify',
    );
    console.log(`        ${message.split('\n').find((line) => line.includes('accepted')) ?? message.slice(0, 300)}`);
  }
  // The two signature backends on generated tokens: at least 10⁵ cases (FUZZ_RUNS raises it).
  const differentialRuns = Math.max(settings.numRuns, 100_000);
  const started = performance.now();
  try {
    const tally = await propertyBackendsAgree(differentialContext(), { ...settings, numRuns: differentialRuns });
    const accepted = tally.outcomes.get('accepted') ?? 0;
    // Interrupted (fast-check's time limit) is not passed.
    if (tally.cases !== differentialRuns) throw new Error(`${tally.cases} of ${differentialRuns} tokens ran`);
    console.log(
      `  ok    node:crypto and WebCrypto backends agree on ${tally.cases} generated tokens ` +
        `(${accepted} accepted, ${tally.acceptedByAlg.size} algorithms; ${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
  } catch (error) {
    failed += 1;
    console.log(`  FAIL  signature backends disagree\n${error instanceof Error ? error.message : String(error)}`);
  }
  // The DPoP proof check on both backends: at least 10⁵ mutated proofs too.
  const proofsStarted = performance.now();
  try {
    const tally = await propertyDpopBackendsAgree(dpopDifferentialContext(), {
      ...settings,
      numRuns: differentialRuns,
    });
    const unreached = DPOP_ANSWERS_REACHED.filter((answer) => !tally.answers.has(answer));
    if (tally.cases !== differentialRuns || unreached.length > 0)
      throw new Error(
        `${tally.cases} of ${differentialRuns} proofs ran; never reached: ${unreached.join(', ') || '-'}`,
      );
    const answers = [...tally.answers].map(([answer, n]) => `${n} ${answer}`).join(', ');
    console.log(
      `  ok    node:crypto and WebCrypto DPoP proof checks agree on ${tally.cases} mutated proofs ` +
        `(${answers}; ${((performance.now() - proofsStarted) / 1000).toFixed(1)} s)`,
    );
  } catch (error) {
    failed += 1;
    console.log(`  FAIL  DPoP proof checks disagree\n${error instanceof Error ? error.message : String(error)}`);
  }
} finally {
  await ctx.close();
}
process.exitCode = failed === 0 ? 0 : 1;
