/**
 * `optional: true`: a request without any credentials goes on unauthenticated; every request that
 * presents something is judged as on any other route. The table is the attacker's: each way of
 * presenting a bad, foreign or revoked token to an optional route, hoping to be taken for "no
 * token" and let through.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  authGuard,
  createAuthenticator,
  createVerifier,
  type OptionalAuthentication,
  type RequestLike,
  type Verifier,
} from '../../../src/index.js';
import { type EmbeddedIdp, startIdp, testClock, tokenAt } from '../../support/idp.js';

const clock = testClock();
let idp: EmbeddedIdp;
let verifier: Verifier;
beforeAll(async () => {
  idp = await startIdp();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock });
});
afterAll(async () => {
  await verifier.close();
  await idp.close();
});

const settle = async (answer: OptionalAuthentication | Promise<OptionalAuthentication>) => answer;

/** 'anonymous', 'admitted', or `<status> <reason>`. */
async function outcome(request: RequestLike, settings: { scopes?: string[] } = {}): Promise<string> {
  const answer = await settle(createAuthenticator({ verifier, optional: true, ...settings })(request));
  if (!answer.ok) return `${answer.status} ${answer.error.reason}`;
  return answer.auth === undefined ? 'anonymous' : 'admitted';
}

describe('an optional route', () => {
  it('lets a request without credentials through, synchronously, with auth undefined', () => {
    const answer = createAuthenticator({ verifier, optional: true })({ headers: {} });
    expect(answer).toEqual({ ok: true, auth: undefined });
  });

  it('admits a good token as usual', async () => {
    expect(await outcome({ headers: { authorization: `Bearer ${await tokenAt(idp, clock())}` } })).toBe('admitted');
  });

  it.each<[string, () => Promise<RequestLike>, string]>([
    ['an empty Authorization header', async () => ({ headers: { authorization: '' } }), 'anonymous'],
    ['an expired token', async () => bearer(await tokenAt(idp, clock() - 3_600_000)), '401 token_expired'],
    [
      'a forged signature',
      async () => bearer(`${(await tokenAt(idp, clock())).split('.').slice(0, 2).join('.')}.${'A'.repeat(342)}`),
      '401 signature_invalid',
    ],
    ['garbage', async () => bearer('not-a-jwt'), '401 malformed_token'],
    ['another scheme (Basic)', async () => ({ headers: { authorization: 'Basic YTpi' } }), '401 missing_token'],
    ['a bare Bearer', async () => ({ headers: { authorization: 'Bearer' } }), '400 malformed_request'],
    [
      'a token in the query instead',
      async () => ({ headers: {}, url: `/notes?access_token=${await tokenAt(idp, clock())}` }),
      '400 query_token_not_allowed',
    ],
    [
      'two Authorization headers',
      async () => ({ headers: { authorization: ['Bearer a', 'Bearer b'] } }),
      '400 multiple_tokens',
    ],
    [
      'a form-body token',
      async () => ({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: { access_token: 'abc' },
      }),
      '400 query_token_not_allowed',
    ],
  ])('%s → %s', async (_name, request, expected) => {
    expect(await outcome(await request())).toBe(expected);
  });

  it('refuses a revoked token instead of treating it as absent', async () => {
    const token = await tokenAt(idp, clock(), { sub: 'optional-revoked' });
    expect(await outcome(bearer(token))).toBe('admitted');
    await verifier.invalidate(token);
    expect(await outcome(bearer(token))).toBe('401 revoked');
  });

  it('still applies the route’s requirements to a token that is presented', async () => {
    const token = await tokenAt(idp, clock(), { scope: 'notes:read' });
    expect(await outcome(bearer(token), { scopes: ['notes:admin'] })).toBe('403 insufficient_scope');
    expect(await outcome({ headers: {} }, { scopes: ['notes:admin'] })).toBe('anonymous');
  });

  it('reports nothing for an anonymous request (it is not a refusal)', async () => {
    const reasons: string[] = [];
    const listener = ({ reason }: { reason: string }) => reasons.push(reason);
    verifier.on('rejected', listener);
    await outcome({ headers: {} });
    await outcome({ headers: { authorization: 'Basic YTpi' } });
    verifier.off('rejected', listener);
    expect(reasons).toEqual(['missing_token']);
  });

  it('is off by default: without a token, 401', async () => {
    const answer = await createAuthenticator({ verifier })({ headers: {} });
    expect(answer).toMatchObject({ ok: false, status: 401 });
  });

  it('must be a boolean', () => {
    expect(() => authGuard({ verifier, optional: 'yes' } as never)).toThrow('`optional` must be true or false');
  });

  it('Express: clears a req.auth an earlier middleware left, and calls next()', async () => {
    const guard = authGuard({ verifier, optional: true });
    const req = { headers: {}, auth: { token: 'stale' } } as never as Parameters<typeof guard>[0];
    let called = false;
    guard(req, {} as never, (error) => {
      expect(error).toBeUndefined();
      called = true;
    });
    expect(called).toBe(true);
    expect(req.auth).toBeUndefined();
  });
});

function bearer(token: string): RequestLike {
  return { headers: { authorization: `Bearer ${token}` } };
}
