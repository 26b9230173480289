/**
 * Fuzz properties shared by test/security/fuzz.test.ts (bounded, in CI) and
 * test/security/fuzz-long.ts (`node --import tsx test/security/fuzz-long.ts`, many more runs).
 *
 * Targets: the real verifier against real IdPs (RS256 and ES256 oidc-provider instances), holding
 * genuinely signed tokens (IdP-issued, plus hand-signed ones without jti / kid), and `authGuard`
 * both called directly and over real HTTP.
 *
 * Settings come from the environment: FUZZ_RUNS (runs per property) and FUZZ_SEED (replay a
 * failure: fast-check prints the seed and path of every counterexample).
 *
 * No @jest/globals here: fast-check's `assert` throws on a counterexample, which fails a jest test
 * and exits the long script alike.
 */
import express from 'express';
import fc from 'fast-check';
import {
  AuthError,
  authErrorHandler,
  authGuard,
  createVerifier,
  type AuthGuardMiddleware,
  type GuardRequest,
  type Verifier,
} from '../../src/index.js';
import { issuedAt, signToken, standardClaims, startIdp, testClock, type EmbeddedIdp } from '../support/idp.js';
import {
  b64u,
  CURVE_ORDER,
  describeError,
  ecParts,
  ecSignature,
  listen,
  nonCanonicalSpellings,
  rawRequest,
} from './helpers.js';

// --- settings -------------------------------------------------------------------------------------

export interface FuzzSettings {
  numRuns: number;
  seed: number | undefined;
}

/**
 * FUZZ_RUNS overrides `defaultRuns`. FUZZ_SEED picks the seed: a number replays a run,
 * `random` (or unset, when `defaultSeed` is undefined) lets fast-check draw one. Either way
 * fast-check prints the seed and path of a counterexample.
 */
export function fuzzSettings(defaultRuns: number, defaultSeed?: number): FuzzSettings {
  const runs = Number(process.env.FUZZ_RUNS);
  const raw = process.env.FUZZ_SEED;
  const seed = raw === undefined || raw === '' ? defaultSeed : raw === 'random' ? undefined : Number(raw);
  return {
    numRuns: Number.isInteger(runs) && runs > 0 ? runs : defaultRuns,
    seed: Number.isInteger(seed) ? seed : undefined,
  };
}

const assertOptions = (settings: FuzzSettings, scale = 1): fc.Parameters<unknown> => ({
  numRuns: Math.max(1, Math.round(settings.numRuns * scale)),
  ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
  // Keep shrinking bounded: a verification is cheap, but a hung shrink would stall CI.
  interruptAfterTimeLimit: 60_000,
  markInterruptAsFailure: false,
});

// --- context ------------------------------------------------------------------------------------

export interface FuzzTarget {
  name: string;
  idp: EmbeddedIdp;
  verifier: Verifier;
  guard: AuthGuardMiddleware;
  /** Genuinely signed tokens this verifier accepts (each was verified once at setup). */
  tokens: string[];
}

export interface FuzzContext {
  targets: FuzzTarget[];
  /** Every genuinely signed token string, over all targets. */
  genuine: Set<string>;
  /** Port of an Express app running the RS256 target's guard. */
  port: number;
  close(): Promise<void>;
}

export async function setupFuzzContext(): Promise<FuzzContext> {
  const [rsIdp, esIdp] = await Promise.all([startIdp(), startIdp({ alg: 'ES256' })]);
  const targets: FuzzTarget[] = [];
  for (const [name, idp] of [
    ['RS256', rsIdp],
    ['ES256', esIdp],
  ] as const) {
    // A fixed clock: unknown kids never trigger a JWKS refetch after the first load, so the
    // properties run with no network traffic and no timing dependence.
    // The IdP stamps its tokens with its own (real) clock: the test clock starts at the later iat.
    const issued = [await idp.issueAccessToken({ scope: 'notes:read' }), await idp.issueAccessToken()];
    const clock = testClock(Math.max(...issued.map(issuedAt)));
    const verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock });
    const noJti = standardClaims(idp, {}, clock());
    delete noJti.jti;
    const tokens = [
      ...issued,
      await signToken(noJti, idp.keys[0]!),
      await signToken(standardClaims(idp, {}, clock()), idp.keys[0]!, { kid: undefined }),
    ];
    for (const token of tokens) await verifier.verify(token);
    targets.push({ name, idp, verifier, guard: authGuard({ verifier, scopes: ['notes:read'] }), tokens });
  }
  const app = express();
  app.get('/notes', targets[0]!.guard, (_req, res) => void res.json({ ok: true }));
  app.use(authErrorHandler());
  const listener = await listen(app);
  return {
    targets,
    genuine: new Set(targets.flatMap((t) => t.tokens)),
    port: listener.port,
    async close() {
      await listener.close();
      await Promise.all(targets.map((t) => t.verifier.close()));
      await Promise.all([rsIdp.close(), esIdp.close()]);
    },
  };
}

// --- outcomes -----------------------------------------------------------------------------------

type Outcome = { resolved: true; payload: unknown; header: unknown } | { resolved: false; error: unknown };

async function outcomeOf(verifier: Verifier, token: string): Promise<Outcome> {
  try {
    const result = await verifier.verify(token);
    return { resolved: true, payload: result.payload, header: result.header };
  } catch (error) {
    return { resolved: false, error };
  }
}

/** A rejection must be one of our typed errors, and (the IdP being healthy) never a 5xx. */
function checkRejection(error: unknown, input: string): void {
  if (!(error instanceof AuthError)) {
    throw new Error(
      `verify(${JSON.stringify(input.slice(0, 200))}) rejected with ${describeError(error)}, not an AuthError`,
      { cause: error },
    );
  }
  if (error.status >= 500) throw new Error(`verify() answered ${error.status} (${error.reason}) with a healthy IdP`);
}

// --- arbitraries: strings -----------------------------------------------------------------------

const B64URL = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'];
const b64urlText = (max: number) => fc.string({ unit: fc.constantFrom(...B64URL), maxLength: max });
const jsonish = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(1e308, -1, 0, 1.5, Number.MAX_SAFE_INTEGER + 2),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);

/** Headers an attacker would try: every dangerous member, with plausible and arbitrary values. */
function headerArbitrary(kids: string[]) {
  return fc.record(
    {
      alg: fc.oneof(
        fc.constantFrom(
          'RS256',
          'PS256',
          'ES256',
          'ES384',
          'EdDSA',
          'HS256',
          'HS512',
          'none',
          'NONE',
          'RSA-OAEP',
          'dir',
          '',
        ),
        jsonish,
      ),
      kid: fc.oneof(fc.constantFrom(...kids), jsonish),
      typ: fc.oneof(fc.constantFrom('at+jwt', 'JWT', 'application/at+jwt'), jsonish),
      crit: fc.oneof(fc.constant(['b64']), fc.constant(['urn:x']), jsonish),
      b64: fc.oneof(fc.boolean(), jsonish),
      jku: fc.constant('http://127.0.0.1:1/jwks'),
      jwk: fc.constant({ kty: 'oct', k: 'AAAA' }),
      cty: fc.constantFrom('JWT', 'jwt'),
      enc: fc.constantFrom('A256GCM'),
      zip: fc.constantFrom('DEF'),
    },
    { requiredKeys: [] },
  );
}

/** Arbitrary strings, from plain noise to well-formed JWS with hostile headers. */
export function garbageToken(kids: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ unit: 'grapheme', maxLength: 100 }),
    // Lone surrogates and every BMP code unit, which UTF-8 round trips mangle.
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 100 }),
    fc.array(b64urlText(60), { minLength: 1, maxLength: 7 }).map((segments) => segments.join('.')),
    fc
      .tuple(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }))
      .map((s) => s.join('.')),
    fc
      .tuple(
        headerArbitrary(kids),
        fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(fc.string(), jsonish)),
        fc.uint8Array({ maxLength: 300 }),
      )
      .map(
        ([header, payload, signature]) =>
          `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload) ?? '')}.${b64u(signature)}`,
      ),
    // Headers that get as far as the signature check: a real alg and kid, random claims and bytes.
    fc
      .tuple(
        fc.constantFrom(...kids),
        fc.constantFrom(['RS256', 256], ['ES256', 64], ['ES256', 256], ['RS256', 64]),
        fc.dictionary(fc.constantFrom('iss', 'aud', 'exp', 'iat', 'nbf', 'sub', 'jti', 'scope'), jsonish),
        fc.nat(),
      )
      .map(
        ([kid, [alg, size], payload, fill]) =>
          `${b64u(JSON.stringify({ alg, kid, typ: 'at+jwt' }))}.${b64u(JSON.stringify(payload))}.${b64u(new Uint8Array(size as number).fill(fill % 256))}`,
      ),
    fc
      .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }))
      .map(([h, p]) => `${b64u(JSON.stringify(h) ?? '')}.${b64u(JSON.stringify(p) ?? '')}.`),
    fc
      .integer({ min: 16_370, max: 16_400 })
      .map((n) => `${'a'.repeat(Math.floor(n / 2))}.${'b'.repeat(n - Math.floor(n / 2) - 2)}.c`),
    fc.constantFrom('', '.', '..', '...', '....', 'null', 'undefined', '[object Object]', 'eyJ.eyJ.', 'Bearer x'),
  );
}

// --- arbitraries: mutations of a genuine token ----------------------------------------------------

const segment = fc.integer({ min: 0, max: 2 });
const oddChar = fc.constantFrom(
  ...B64URL,
  '.',
  '=',
  '+',
  '/',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u0000',
  '~',
  'é',
  '🔑',
  '\ud800',
  '%',
);

export type Mutation =
  | { op: 'bitflip'; segment: number; bit: number }
  | { op: 'replace'; position: number; char: string }
  | { op: 'insert'; position: number; text: string }
  | { op: 'delete'; position: number; count: number }
  | { op: 'truncate'; position: number }
  | { op: 'swap'; a: number; b: number }
  | { op: 'duplicate'; segment: number }
  | { op: 'drop'; segment: number }
  | { op: 'pad'; segment: number; count: number }
  | { op: 'alphabet'; segment: number }
  | { op: 'whitespace'; segment: number; position: number; char: string }
  | { op: 'case'; position: number }
  | { op: 'spare-bits'; segment: number }
  | { op: 'high-s' }
  | { op: 'header'; field: string; value: unknown }
  | { op: 'claim'; field: string; value: unknown }
  | { op: 'splice'; segment: number; donor: number };

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('bitflip' as const), segment, bit: fc.nat({ max: 4095 }) }),
  fc.record({ op: fc.constant('replace' as const), position: fc.nat(), char: oddChar }),
  fc.record({
    op: fc.constant('insert' as const),
    position: fc.nat(),
    text: fc.oneof(oddChar, fc.string({ maxLength: 5 })),
  }),
  fc.record({ op: fc.constant('delete' as const), position: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), position: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), a: segment, b: segment }),
  fc.record({ op: fc.constant('duplicate' as const), segment }),
  fc.record({ op: fc.constant('drop' as const), segment }),
  fc.record({ op: fc.constant('pad' as const), segment, count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constant('alphabet' as const), segment }),
  fc.record({
    op: fc.constant('whitespace' as const),
    segment,
    position: fc.nat(),
    char: fc.constantFrom(' ', '\t', '\n', '\r', '\f', '\u00a0'),
  }),
  fc.record({ op: fc.constant('case' as const), position: fc.nat() }),
  fc.record({ op: fc.constant('spare-bits' as const), segment }),
  fc.constant({ op: 'high-s' as const }),
  fc.record({
    op: fc.constant('header' as const),
    field: fc.constantFrom('alg', 'kid', 'typ', 'crit', 'b64', 'jku', 'jwk', 'x5c', 'cty', 'enc'),
    value: jsonish,
  }),
  fc.record({
    op: fc.constant('claim' as const),
    field: fc.constantFrom('iss', 'aud', 'exp', 'nbf', 'iat', 'sub', 'jti', 'scope', 'client_id', '__proto__'),
    value: jsonish,
  }),
  fc.record({ op: fc.constant('splice' as const), segment, donor: fc.nat({ max: 15 }) }),
);

const at = (n: number, length: number) => (length === 0 ? 0 : n % (length + 1));

function editJson(seg: string, edit: (value: Record<string, unknown>) => void): string {
  try {
    const value = JSON.parse(Buffer.from(seg, 'base64url').toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return seg;
    edit(value as Record<string, unknown>);
    return b64u(JSON.stringify(value));
  } catch {
    return seg;
  }
}

/** Applies one mutation; `donors` are other genuine tokens to splice segments from. */
export function applyMutation(token: string, mutation: Mutation, donors: readonly string[]): string {
  const segs = token.split('.');
  const seg = (i: number) => Math.min(i, segs.length - 1);
  const join = () => segs.join('.');
  switch (mutation.op) {
    case 'bitflip': {
      const i = seg(mutation.segment);
      const bytes = Buffer.from(segs[i] ?? '', 'base64url');
      if (bytes.length === 0) return token;
      const bit = mutation.bit % (bytes.length * 8);
      bytes[bit >> 3]! ^= 1 << (bit & 7);
      segs[i] = bytes.toString('base64url');
      return join();
    }
    case 'replace': {
      const p = at(mutation.position, token.length - 1);
      return token.slice(0, p) + mutation.char + token.slice(p + 1);
    }
    case 'insert': {
      const p = at(mutation.position, token.length);
      return token.slice(0, p) + mutation.text + token.slice(p);
    }
    case 'delete': {
      const p = at(mutation.position, token.length);
      return token.slice(0, p) + token.slice(p + mutation.count);
    }
    case 'truncate':
      return token.slice(0, at(mutation.position, token.length - 1));
    case 'swap': {
      const a = seg(mutation.a);
      const b = seg(mutation.b);
      [segs[a], segs[b]] = [segs[b]!, segs[a]!];
      return join();
    }
    case 'duplicate':
      segs.splice(seg(mutation.segment), 0, segs[seg(mutation.segment)]!);
      return join();
    case 'drop':
      segs.splice(seg(mutation.segment), 1);
      return join();
    case 'pad':
      segs[seg(mutation.segment)] += '='.repeat(mutation.count);
      return join();
    case 'alphabet': {
      const i = seg(mutation.segment);
      segs[i] = segs[i]!.replace(/-/g, '+').replace(/_/g, '/');
      return join();
    }
    case 'whitespace': {
      const i = seg(mutation.segment);
      const p = at(mutation.position, segs[i]!.length);
      segs[i] = segs[i]!.slice(0, p) + mutation.char + segs[i]!.slice(p);
      return join();
    }
    case 'case': {
      const p = at(mutation.position, token.length - 1);
      const c = token.charAt(p);
      const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return token.slice(0, p) + flipped + token.slice(p + 1);
    }
    case 'spare-bits': {
      const i = seg(mutation.segment);
      const respelled = nonCanonicalSpellings(segs[i]!).at(-1);
      if (respelled !== undefined) segs[i] = respelled;
      return join();
    }
    case 'high-s': {
      // ECDSA malleability: (r, n - s) is a second valid signature over the same input.
      if (segs.length !== 3 || Buffer.from(segs[2]!, 'base64url').length !== 64) return token;
      const { r, s } = ecParts('ES256', segs[2]!);
      segs[2] = ecSignature('ES256', r, (CURVE_ORDER.ES256 - s) % CURVE_ORDER.ES256);
      return join();
    }
    case 'header':
      segs[0] = editJson(segs[0]!, (h) => void (h[mutation.field] = mutation.value));
      return join();
    case 'claim':
      if (segs.length > 1) segs[1] = editJson(segs[1]!, (p) => void (p[mutation.field] = mutation.value));
      return join();
    case 'splice': {
      const donor = donors.length === 0 ? token : donors[mutation.donor % donors.length]!;
      const donorSegs = donor.split('.');
      const i = seg(mutation.segment);
      segs[i] = donorSegs[Math.min(i, donorSegs.length - 1)]!;
      return join();
    }
  }
}

export interface MutationCase {
  target: number;
  token: number;
  mutations: Mutation[];
}

export const mutationCase: fc.Arbitrary<MutationCase> = fc.record({
  target: fc.nat({ max: 1 }),
  token: fc.nat({ max: 3 }),
  mutations: fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }),
});

function mutate(ctx: FuzzContext, c: MutationCase): { target: FuzzTarget; original: string; mutated: string } {
  const target = ctx.targets[c.target % ctx.targets.length]!;
  const original = target.tokens[c.token % target.tokens.length]!;
  const donors = target.tokens.filter((t) => t !== original);
  let mutated = original;
  for (const mutation of c.mutations) mutated = applyMutation(mutated, mutation, donors);
  return { target, original, mutated };
}

const signingInput = (token: string) => token.split('.').slice(0, 2).join('.');

// --- properties -----------------------------------------------------------------------------------

/** Arbitrary strings: verify() rejects, always with an AuthError (never TypeError, SyntaxError, …). */
export async function propertyGarbageIsRejectedTyped(ctx: FuzzContext, settings: FuzzSettings): Promise<void> {
  const kids = ctx.targets.map((t) => t.idp.keys[0]!.kid);
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: 1 }), garbageToken(kids), async (t, input) => {
      const target = ctx.targets[t]!;
      const outcome = await outcomeOf(target.verifier, input);
      if (outcome.resolved) {
        if (!target.tokens.includes(input))
          throw new Error(
            `verify() accepted a string that is no genuine token: ${JSON.stringify(input.slice(0, 300))}`,
          );
        return;
      }
      checkRejection(outcome.error, input);
    }),
    assertOptions(settings),
  );
}

/**
 * Mutations of genuine tokens: verify() either rejects with an AuthError, or resolves — and then
 * the signing input (header.payload text) is byte-identical to the genuine token's and the result
 * carries exactly its header and claims. That is: no mutation ever forges or alters a claim.
 */
export async function propertyMutationsNeverForge(ctx: FuzzContext, settings: FuzzSettings): Promise<void> {
  await fc.assert(
    fc.asyncProperty(mutationCase, async (c) => {
      const { target, original, mutated } = mutate(ctx, c);
      const outcome = await outcomeOf(target.verifier, mutated);
      if (!outcome.resolved) {
        if (mutated === original) throw new Error('the genuine token itself was refused');
        checkRejection(outcome.error, mutated);
        return;
      }
      // Splicing a donor's payload and signature under an identical header rebuilds the donor:
      // another genuine token. What must never verify is signed content no genuine token has.
      const source = target.tokens.find((t) => signingInput(t) === signingInput(mutated));
      if (source === undefined) {
        throw new Error(
          `accepted a token whose header.payload matches no genuine token: ${JSON.stringify(mutated.slice(0, 300))}`,
        );
      }
      const genuine = target.verifier.peek(source) ?? (await target.verifier.verify(source));
      if (
        JSON.stringify(outcome.payload) !== JSON.stringify(genuine.payload) ||
        JSON.stringify(outcome.header) !== JSON.stringify(genuine.header)
      ) {
        throw new Error('accepted a mutated token with other claims or header than the genuine one');
      }
    }),
    assertOptions(settings),
  );
}

/**
 * The strict form: verify() resolves only for a byte-identical genuine token string. Known to fail
 * (see fuzz.test.ts): jose on Node 20 decodes base64url leniently, so "sig==" and spare-bit
 * re-spellings of the signature verify, and ECDSA (r, n − s) twins verify.
 */
export async function propertyOnlyExactTokensVerify(ctx: FuzzContext, settings: FuzzSettings): Promise<void> {
  await fc.assert(
    fc.asyncProperty(mutationCase, async (c) => {
      const { target, original, mutated } = mutate(ctx, c);
      const outcome = await outcomeOf(target.verifier, mutated);
      // ECDSA's (r, n − s) is a second valid signature over the same content (WebCrypto accepts it;
      // refusing high-S would refuse half of all genuine ES256 tokens). Same claims, and the
      // denylist keys on the signing input, so revoking one revokes both.
      const signedContent = (t: string) => t.slice(0, t.lastIndexOf('.'));
      const ecdsaTwin = /^ES/.test(target.idp.keys[0]!.alg) && signedContent(mutated) === signedContent(original);
      // Splices can rebuild another genuine token byte for byte (identical headers): allowed too.
      if (outcome.resolved && mutated !== original && !ecdsaTwin && !target.tokens.includes(mutated)) {
        throw new Error(
          `accepted a token that is not byte-identical to a genuine one: ${JSON.stringify(mutated.slice(-12))} for ${JSON.stringify(original.slice(-12))}`,
        );
      }
      if (!outcome.resolved) checkRejection(outcome.error, mutated);
    }),
    {
      ...assertOptions(settings),
      // Deterministic reproductions, so the property fails on every run until the bug is fixed.
      examples: [
        [{ target: 0, token: 0, mutations: [{ op: 'pad', segment: 2, count: 2 }] }],
        [{ target: 0, token: 0, mutations: [{ op: 'spare-bits', segment: 2 }] }],
        [{ target: 1, token: 0, mutations: [{ op: 'high-s' }] }],
      ],
    },
  );
}

/** Drives the guard directly with a fake request; resolves with what it passed to next(). */
function runGuard(guard: AuthGuardMiddleware, req: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let calls = 0;
    const timer = setTimeout(() => reject(new Error('authGuard never called next()')), 5_000);
    try {
      guard(req as unknown as GuardRequest, {} as never, (err?: unknown) => {
        calls += 1;
        if (calls > 1) reject(new Error('authGuard called next() twice'));
        clearTimeout(timer);
        resolve(err);
      });
    } catch (error) {
      clearTimeout(timer);
      reject(new Error(`authGuard threw synchronously: ${describeError(error)}`));
    }
  });
}

const headerValue = (ctx: FuzzContext) => {
  const kids = ctx.targets.map((t) => t.idp.keys[0]!.kid);
  const scheme = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'DPoP', 'Token', '', 'Bearer,');
  const sep = fc.constantFrom(' ', '  ', '\t', '', ' \t ', ',');
  const genuineToken = fc.constantFrom(...ctx.targets[0]!.tokens);
  const mutated = fc
    .tuple(genuineToken, fc.array(mutationArbitrary, { maxLength: 2 }))
    .map(([t, ms]) => ms.reduce((acc, m) => applyMutation(acc, m, []), t));
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.tuple(scheme, sep, fc.oneof(garbageToken(kids), mutated, genuineToken)).map(([a, b, c]) => `${a}${b}${c}`),
  );
};

/** authGuard called directly: next() exactly once, with nothing or an AuthError, never a 5xx. */
export async function propertyGuardNeverFails(ctx: FuzzContext, settings: FuzzSettings): Promise<void> {
  const guard = ctx.targets[0]!.guard;
  await fc.assert(
    fc.asyncProperty(
      fc.array(headerValue(ctx), { minLength: 0, maxLength: 2 }),
      fc.option(
        fc.oneof(
          fc.constant('access_token=x'),
          fc.string({ maxLength: 20 }).map((q) => encodeURI(q)),
        ),
      ),
      fc.option(
        fc.oneof(
          fc.constant({ access_token: 'x' }),
          fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })),
        ),
      ),
      async (values, query, body) => {
        const rawHeaders = values.flatMap((v) => ['Authorization', v]);
        const req: Record<string, unknown> = {
          headers: values.length === 0 ? {} : { authorization: values[0] },
          rawHeaders,
          url: query === null ? '/notes' : `/notes?${query}`,
          ...(body === null ? {} : { body }),
        };
        const err = await runGuard(guard, req);
        if (err === undefined) return;
        if (!(err instanceof AuthError))
          throw new Error(`authGuard passed ${describeError(err)} to next(), not an AuthError`);
        if (err.status >= 500) throw new Error(`authGuard answered ${err.status} (${err.reason})`);
      },
    ),
    assertOptions(settings),
  );
}

const HTTP_OK_STATUSES = new Set([200, 400, 401, 403, 431]);

/** authGuard behind Express over real HTTP, arbitrary header bytes: never a 5xx, never a hang. */
export async function propertyGuardOverHttpNeverFails(
  ctx: FuzzContext,
  settings: FuzzSettings,
  scale = 0.5,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.array(headerValue(ctx), { minLength: 0, maxLength: 2 }),
      fc.boolean(),
      async (values, asBytes) => {
        // CR and LF are HTTP framing, not header content: keep each value on its line.
        const lines = values.map((v) => {
          const clean = v.replace(/[\r\n]/g, '');
          return asBytes
            ? Buffer.concat([Buffer.from('Authorization: '), Buffer.from(clean, 'utf8')])
            : `Authorization: ${clean}`;
        });
        const res = await rawRequest(ctx.port, lines, '/notes');
        if (!HTTP_OK_STATUSES.has(res.status))
          throw new Error(`authGuard over HTTP answered ${res.status}: ${res.raw.slice(0, 200)}`);
      },
    ),
    assertOptions(settings, scale),
  );
}
