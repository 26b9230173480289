/**
 * What made-up opaque tokens can cost the IdP (issue 10, item 9). Each unknown opaque token used to
 * be one introspection call: a flood of garbage became a flood at the IdP, the IdP answered 429,
 * and every genuine opaque token then got a 503. A local IdP counts calls and rate-limits like a
 * real one; time is the injected clock only.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import {
  authGuard,
  createVerifier,
  IdpUnavailableError,
  InvalidTokenError,
  type IntrospectionOptions,
  type Verifier,
} from '../../src/index.js';
import { sendJson, startStubServer, type StubServer } from '../support/http.js';
import { testClock } from '../support/idp.js';
import { closeVerifiers, verifierFor } from '../support/verifier-for.js';

const AUDIENCE = 'https://api.example';
type Clock = ReturnType<typeof testClock>;

interface CountingIdp {
  stub: StubServer;
  /** Introspection calls received so far. */
  calls(): number;
  /** Tokens it calls active, with the audience it reports for each. */
  active: Map<string, string>;
  /** From this many calls on, answer 429 with `Retry-After` (undefined: never). */
  limitAfter: number | undefined;
  retryAfter: string;
}

const stubs: StubServer[] = [];
afterEach(async () => {
  await closeVerifiers();
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});

async function countingIdp(clock: Clock): Promise<CountingIdp> {
  const idp = { active: new Map<string, string>(), limitAfter: undefined, retryAfter: '20' } as unknown as CountingIdp;
  idp.stub = await startStubServer((_req, res, body) => {
    if (idp.limitAfter !== undefined && idp.stub.requests.length > idp.limitAfter) {
      sendJson(res, 429, { error: 'too_many_requests' }, { 'retry-after': idp.retryAfter });
      return;
    }
    const token = new URLSearchParams(body).get('token') ?? '';
    const aud = idp.active.get(token);
    if (aud === undefined) sendJson(res, 200, { active: false });
    else
      sendJson(res, 200, {
        active: true,
        aud,
        sub: 'alice',
        scope: 'notes:read',
        exp: Math.floor(clock() / 1000) + 3600,
      });
  });
  stubs.push(idp.stub);
  idp.calls = () => idp.stub.requests.length;
  return idp;
}

/** A verifier whose opaque tokens go to `idp`'s introspection endpoint. */
function introspectingVerifier(
  idp: CountingIdp,
  clock: Clock,
  introspection: Partial<IntrospectionOptions> = {},
): Verifier {
  return verifierFor(
    { issuer: 'https://idp.example', audience: AUDIENCE },
    {
      clock,
      introspection: {
        clientId: 'rs',
        clientSecret: 'rs-secret',
        endpoint: `${idp.stub.url}/introspect`,
        ...introspection,
      },
    },
  );
}

/** A genuine opaque token the IdP calls active for our audience. */
function genuine(idp: CountingIdp, name: string): string {
  const token = `opaque-0123456789abcdef-genuine-${name}`;
  idp.active.set(token, AUDIENCE);
  return token;
}
// The varying part last: the verified-token cache indexes a token by its last characters.
const garbage = (n: number, tag = 'g') => Array.from({ length: n }, (_, i) => `garbage-0123456789abcdef-${tag}-${i}`);

/** 'accepted', an InvalidTokenError's reason, or 'unavailable:<Retry-After>' for a 503. */
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (e: unknown) =>
      e instanceof InvalidTokenError
        ? e.reason
        : e instanceof IdpUnavailableError
          ? `unavailable:${e.retryAfter}`
          : `unexpected:${String(e)}`,
  );
const tally = (outcomes: string[]) =>
  outcomes.reduce<Record<string, number>>((all, o) => ({ ...all, [o]: (all[o] ?? 0) + 1 }), {});

describe('unknown opaque tokens cannot flood the IdP', () => {
  it('300 garbage tokens cost the window budget in IdP calls, the rest a 503 with Retry-After; genuine cached tokens keep 200', async () => {
    const clock = testClock();
    const idp = await countingIdp(clock);
    const verifier = introspectingVerifier(idp, clock, { newTokenBudget: 10, newTokenWindow: 1 });
    const app = express().get('/', authGuard({ verifier }), (req, res) => res.json({ sub: req.auth!.payload.sub }));
    const tokens = [genuine(idp, 'a'), genuine(idp, 'b')];
    for (const token of tokens) expect(await outcome(verifier.verify(token))).toBe('accepted');
    clock.advance(1_000); // the two genuine tokens spent 2 of this window's budget: start a fresh one
    const before = idp.calls();

    const results = tally(await Promise.all(garbage(300).map((token) => outcome(verifier.verify(token)))));
    expect(results).toEqual({ token_inactive: 10, 'unavailable:1': 290 });
    expect(idp.calls() - before).toBe(10);

    // Through the guard: the surplus is a 503 with Retry-After, genuine tokens a 200, no IdP call.
    const surplus = await request(app).get('/').auth('garbage-0123456789abcdef-late', { type: 'bearer' });
    expect(surplus.status).toBe(503);
    expect(surplus.headers['retry-after']).toBe('1');
    for (const token of tokens) {
      const res = await request(app).get('/').auth(token, { type: 'bearer' });
      expect(res.status).toBe(200);
    }
    expect(idp.calls() - before).toBe(10);

    // The next window has a fresh budget.
    clock.advance(1_000);
    expect(await outcome(verifier.verify(genuine(idp, 'c')))).toBe('accepted');
    expect(idp.calls() - before).toBe(11);
  });

  it("honours the IdP's Retry-After on 429: no call at all until it has passed, cached tokens keep working", async () => {
    const clock = testClock();
    const idp = await countingIdp(clock);
    const verifier = introspectingVerifier(idp, clock, { newTokenBudget: 1_000 });
    const known = genuine(idp, 'known');
    expect(await outcome(verifier.verify(known))).toBe('accepted');
    idp.limitAfter = 5;
    expect(tally(await Promise.all(garbage(4).map((token) => outcome(verifier.verify(token)))))).toEqual({
      token_inactive: 4,
    });
    expect(await outcome(verifier.verify('garbage-0123456789abcdef-over-the-limit'))).toBe('unavailable:20');
    expect(idp.calls()).toBe(6);

    const fresh = genuine(idp, 'fresh');
    const during = tally(
      await Promise.all([...garbage(50, 'during'), fresh].map((token) => outcome(verifier.verify(token)))),
    );
    expect(during).toEqual({ 'unavailable:20': 51 });
    expect(idp.calls()).toBe(6);
    expect(await outcome(verifier.verify(known))).toBe('accepted');

    idp.limitAfter = undefined; // the IdP is fine again, but we were asked to wait 20 s
    clock.advance(19_000);
    expect(await outcome(verifier.verify(fresh))).toBe('unavailable:1');
    expect(idp.calls()).toBe(6);
    clock.advance(1_000);
    expect(await outcome(verifier.verify(fresh))).toBe('accepted');
    expect(idp.calls()).toBe(7);
  });

  it('backs off exponentially when the endpoint fails without Retry-After, one probe per step', async () => {
    const clock = testClock();
    const idp = await countingIdp(clock);
    const verifier = introspectingVerifier(idp, clock);
    idp.limitAfter = 0;
    idp.retryAfter = 'soon'; // unusable: our own backoff decides
    expect(await outcome(verifier.verify('garbage-0123456789abcdef-a'))).toBe('unavailable:30');
    expect(await outcome(verifier.verify('garbage-0123456789abcdef-b'))).toBe('unavailable:1');
    clock.advance(1_000);
    expect(await outcome(verifier.verify('garbage-0123456789abcdef-c'))).toBe('unavailable:30');
    expect(await outcome(verifier.verify('garbage-0123456789abcdef-d'))).toBe('unavailable:2');
    expect(idp.calls()).toBe(2);
  });

  it('a flood cannot lock out a token the IdP called active before, once its cached answer is past maxAge', async () => {
    const clock = testClock();
    const idp = await countingIdp(clock);
    const verifier = introspectingVerifier(idp, clock, { newTokenBudget: 5, maxAge: 10 });
    const known = genuine(idp, 'known');
    expect(await outcome(verifier.verify(known))).toBe('accepted');
    clock.advance(11_000); // the cached answer is too old: the IdP must be asked again
    await Promise.all(garbage(50).map((token) => outcome(verifier.verify(token))));
    const before = idp.calls();
    expect(await outcome(verifier.verify(known))).toBe('accepted');
    expect(idp.calls() - before).toBe(1);
    // A token never seen before waits for the next window, like the garbage.
    expect(await outcome(verifier.verify(genuine(idp, 'new')))).toBe('unavailable:1');
  });
});

describe('refusals are remembered, briefly and safely', () => {
  it('an inactive token replayed within 30 s costs no call; after 30 s (injected clock) it is asked again', async () => {
    const clock = testClock();
    const idp = await countingIdp(clock);
    const verifier = introspectingVerifier(idp, clock);
    const [token] = garbage(1);
    expect(await outcome(verifier.verify(token!))).toBe('token_inactive');
    expect(await outcome(verifier.verify(token!))).toBe('token_inactive');
    expect(idp.calls()).toBe(1);
    clock.advance(29_000);
    expect(await outcome(verifier.verify(token!))).toBe('token_inactive');
    expect(idp.calls()).toBe(1);
    clock.advance(2_000);
    expect(await outcome(verifier.verify(token!))).toBe('token_inactive');
    expect(idp.calls()).toBe(2);
  });

  it('an active token for another audience is remembered as refused too', async () => {
    const clock = testClock();
    const idp = await countingIdp(clock);
    const verifier = introspectingVerifier(idp, clock);
    const token = 'opaque-0123456789abcdef-someone-elses';
    idp.active.set(token, 'https://other-api.example');
    expect(await outcome(verifier.verify(token))).toBe('audience_mismatch');
    expect(await outcome(verifier.verify(token))).toBe('audience_mismatch');
    expect(idp.calls()).toBe(1);
  });

  it('concurrent checks of one unknown token share one call', async () => {
    const clock = testClock();
    const idp = await countingIdp(clock);
    const verifier = introspectingVerifier(idp, clock);
    const [token] = garbage(1);
    expect(tally(await Promise.all(Array.from({ length: 50 }, () => outcome(verifier.verify(token!)))))).toEqual({
      token_inactive: 50,
    });
    expect(idp.calls()).toBe(1);
  });

  it('refuses a budget that is not a whole number > 0, or a window that is not > 0', () => {
    const base = { issuer: 'https://idp.example', audience: AUDIENCE };
    for (const newTokenBudget of [0, -1, 1.5, Number.NaN, '10']) {
      expect(() =>
        createVerifier({ ...base, introspection: { clientId: 'rs', newTokenBudget: newTokenBudget as number } }),
      ).toThrow(/newTokenBudget/);
    }
    expect(() => createVerifier({ ...base, introspection: { clientId: 'rs', newTokenWindow: 0 } })).toThrow(
      /newTokenWindow/,
    );
  });
});
