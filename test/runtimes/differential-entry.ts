/**
 * The signature backends' differential corpus as a command, for `npm run test:runtimes` on every
 * runtime that offers node:crypto (the pinned Nodes, Bun, Deno; workerd has none without
 * `nodejs_compat`, and checks signatures with WebCrypto only): the named attacks on access tokens
 * (test/security/backend-differential.ts) and on DPoP proofs (test/security/dpop-differential.ts),
 * each with the answer due, then generated tokens and mutated proofs, every one through
 * node:crypto and WebCrypto on this runtime. Bundled by run.ts with the sources (not dist/: the
 * backends are internal) into one ESM file.
 *
 * Input (first argument, JSON): {@link DifferentialInput}. Output (last line of stdout, JSON):
 * see {@link DifferentialReport}.
 */
import { defaultJwsBackend, jwsBackend } from '../../src/core/verify/jws-backend.js';
import { jsRuntime } from '../../src/core/verify/js-runtime.js';
import {
  ASYMMETRIC,
  checkNamedAttacks,
  differentialContext,
  HMAC,
  type KnownDeviation,
  propertyBackendsAgree,
} from '../security/backend-differential.js';
import {
  checkNamedProofs,
  DPOP_ANSWERS_REACHED,
  dpopDifferentialContext,
  propertyDpopBackendsAgree,
} from '../security/dpop-differential.js';

declare const Deno: { args: string[] } | undefined;

/** What the driver sends. */
export interface DifferentialInput {
  /** Generated access tokens. */
  tokens: number;
  /** Mutated DPoP proofs. */
  proofs: number;
  seed: number;
  /** Deviations pinned for this runtime: tolerated and counted (see KnownDeviation). */
  tolerated: KnownDeviation[];
}

/** One half of the corpus (access tokens or DPoP proofs) on this runtime. */
export interface CorpusReport {
  named: number;
  /** Named cases the backends disagree on, or agree on with an answer not due: one line each. */
  namedFailures: string[];
  generated: number;
  /** fast-check's report of the first generated disagreement (seed, path, counterexample). */
  generatedFailure: string | undefined;
  /** Generated cases by answer: proof the generator reached the paths that matter. */
  answers: Record<string, number>;
  /** What the generator should have reached and did not (every algorithm accepted, several refusals). */
  unreached: string[];
  /** Tolerated deviations seen, named and generated cases together. */
  deviations: Record<string, number>;
}

export interface DifferentialReport {
  runtime: string;
  /** The backend a verifier made on this runtime uses. */
  defaultBackend: string;
  accessTokens: CorpusReport;
  dpopProofs: CorpusReport;
  seconds: number;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 4000);

/** What a half of the corpus hands {@link corpusReport}: its named cases' verdicts… */
interface NamedRun {
  cases: number;
  failures: Array<{ group: string; name: string; expected: string; nodeCrypto: string; webCrypto: string }>;
  deviations: Map<string, number>;
}
/** …and its generated cases' tally: answers reached, deviations tolerated, what was never reached. */
interface GeneratedRun {
  cases: number;
  answers: Map<string, number>;
  deviations: Map<string, number>;
  unreached: string[];
}

/** One half's report: the named cases, then the generated ones (a disagreement there is reported, not thrown). */
async function corpusReport(named: NamedRun, generate: () => Promise<GeneratedRun>): Promise<CorpusReport> {
  const report: CorpusReport = {
    named: named.cases,
    namedFailures: named.failures.map(
      (f) => `${f.group} / ${f.name}: expected ${f.expected}; node:crypto ${f.nodeCrypto}; webcrypto ${f.webCrypto}`,
    ),
    generated: 0,
    generatedFailure: undefined,
    answers: {},
    unreached: [],
    deviations: {},
  };
  const deviations = new Map(named.deviations);
  try {
    const tally = await generate();
    report.generated = tally.cases;
    report.answers = Object.fromEntries(tally.answers);
    report.unreached = tally.unreached;
    for (const [deviation, n] of tally.deviations) deviations.set(deviation, (deviations.get(deviation) ?? 0) + n);
  } catch (error) {
    report.generatedFailure = message(error);
  }
  report.deviations = Object.fromEntries(deviations);
  return report;
}

async function accessTokens(input: DifferentialInput): Promise<CorpusReport> {
  const ctx = differentialContext();
  return corpusReport(await checkNamedAttacks(ctx, input.tolerated), async () => {
    const tally = await propertyBackendsAgree(ctx, { numRuns: input.tokens, seed: input.seed }, input.tolerated);
    const unreached = [...ASYMMETRIC, ...HMAC]
      .filter((alg) => !tally.acceptedByAlg.has(alg))
      .map((a) => `accepted ${a}`);
    for (const refusal of ['signature_invalid', 'key_not_found', 'algorithm_not_allowed', 'malformed_token'])
      if (!tally.outcomes.has(`refused ${refusal}`)) unreached.push(`refused ${refusal}`);
    return { cases: tally.cases, answers: tally.outcomes, deviations: tally.deviations, unreached };
  });
}

async function dpopProofs(input: DifferentialInput): Promise<CorpusReport> {
  const ctx = dpopDifferentialContext();
  return corpusReport(await checkNamedProofs(ctx, input.tolerated), async () => {
    const tally = await propertyDpopBackendsAgree(ctx, { numRuns: input.proofs, seed: input.seed }, input.tolerated);
    const unreached = DPOP_ANSWERS_REACHED.filter((answer) => !tally.answers.has(answer));
    return { cases: tally.cases, answers: tally.answers, deviations: tally.deviations, unreached };
  });
}

const started = performance.now();
const args = typeof Deno === 'undefined' ? process.argv.slice(2) : Deno.args;
const input = JSON.parse(args[0] ?? '') as DifferentialInput;
if (jwsBackend('node:crypto') === undefined) throw new Error(`no node:crypto backend on ${jsRuntime()}`);
const report: DifferentialReport = {
  runtime: jsRuntime(),
  defaultBackend: defaultJwsBackend().name,
  accessTokens: await accessTokens(input),
  dpopProofs: await dpopProofs(input),
  seconds: Math.round((performance.now() - started) / 100) / 10,
};
console.log(JSON.stringify(report));
