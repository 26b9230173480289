/**
 * Attack pass on issue 11 (the request step in the core, the verifier split): tests an attacker
 * or a careless integrator would write against the framework-free API. Each names the hole it probes.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import {
  type Authentication,
  createAuthenticator,
  createBackchannelLogoutHandler,
  createMemoryStore,
  createRevokeHandler,
  createVerifier,
  type Verifier,
} from '../../src/index.js';
import { gatedJwks } from '../support/gated-jwks.js';
import { testClock } from '../support/idp.js';
import { createHmacVerifier } from '../support/hmac-verifier.js';

const SECRET = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const AUD = 'https://api.example';
const ISSUER = 'http://127.0.0.1:9/attack-11';
const OTHER_ISSUER = 'http://127.0.0.1:9/attack-11-other';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

function hmacVerifier(clock: ReturnType<typeof testClock>): Verifier {
  const { verifier } = createHmacVerifier({ issuer: ISSUER, audience: AUD, secret: SECRET }, clock);
  open.push(verifier);
  return verifier;
}

function sign(clock: () => number, sub: string): Promise<string> {
  const iat = Math.floor(clock() / 1000);
  return new SignJWT({ sub, iss: ISSUER, aud: AUD, iat, exp: iat + 300, jti: `${sub}-${iat}` })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(SECRET);
}

/** The answer, as `{ ok, sub }` or `{ status, reason }`, sync or not. */
async function outcome(answer: Authentication | Promise<Authentication>) {
  const settled = await answer;
  return settled.ok
    ? { ok: true, sub: settled.auth.payload.sub }
    : { ok: false, status: settled.status, reason: settled.error.reason };
}

/**
 * A verifier (one issuer, or two) whose RS256 keys are fetched through a gate: until `release()`,
 * a verification waits for the JWKS, so it is still in flight when close() lands. (An HMAC check,
 * or any whose key is at hand, ends before verify() returns: nothing would be in flight.)
 */
async function gatedVerifier(clock: ReturnType<typeof testClock>, several: boolean) {
  const { fetch, release, sign } = await gatedJwks();
  const entry = (issuer: string) => ({ issuer, audience: AUD, jwksUri: `${issuer}/jwks` });
  const verifier = several
    ? createVerifier({ issuers: [entry(ISSUER), entry(OTHER_ISSUER)], clock, fetch })
    : createVerifier({ ...entry(ISSUER), clock, fetch, store: createMemoryStore({ clock }) });
  open.push(verifier);
  const iat = Math.floor(clock() / 1000);
  const token = await sign({ sub: 'alice', iss: ISSUER, aud: AUD, iat, exp: iat + 300, jti: `alice-${iat}` });
  return { verifier, token, release };
}

describe('a closed verifier admits nothing, not even from the hit path', () => {
  it.each([
    ['one issuer', false],
    ['several issuers', true],
  ])(
    '%s: a verification in flight at close() leaves no token that peek() (and so authenticate) accepts',
    async (_label, several) => {
      const clock = testClock(1_800_000_000_000);
      const { verifier, token, release } = await gatedVerifier(clock, several);
      // Waiting for the keys: close() lands while it runs, and it finishes (caches) afterwards.
      const inFlight = verifier.verify(token).catch(() => undefined);
      await verifier.close();
      release();
      await inFlight;
      // The closed verifier no longer hears revocations (its mirror is closed): it must not vouch for anything.
      expect(verifier.peek(token)).toBeUndefined();
      const answer = createAuthenticator({ verifier })({ headers: { authorization: `Bearer ${token}` } });
      expect(await outcome(answer)).toEqual({ ok: false, status: 500, reason: 'verifier_closed' });
    },
  );
});

describe('Authorization sent twice in a plain record (two casings) is refused, not resolved by picking one', () => {
  it.each([
    ['authorization + Authorization', (a: string, b: string) => ({ authorization: a, Authorization: b })],
    ['Authorization + AUTHORIZATION', (a: string, b: string) => ({ Authorization: a, AUTHORIZATION: b })],
  ])('%s: 400 multiple_tokens, whichever token each holds', async (_name, headersOf) => {
    const clock = testClock(1_800_000_000_000);
    const verifier = hmacVerifier(clock);
    const [alice, mallory] = [await sign(clock, 'alice'), await sign(clock, 'mallory')];
    await verifier.verify(alice);
    await verifier.verify(mallory); // both cached: the sync hit path must refuse as well
    const authenticate = createAuthenticator({ verifier });
    const answer = authenticate({ headers: headersOf(`Bearer ${alice}`, `Bearer ${mallory}`) });
    expect(await outcome(answer)).toEqual({ ok: false, status: 400, reason: 'multiple_tokens' });
  });

  it('one Authorization in any casing is still read', async () => {
    const clock = testClock(1_800_000_000_000);
    const verifier = hmacVerifier(clock);
    const alice = await sign(clock, 'alice');
    const authenticate = createAuthenticator({ verifier });
    expect(await outcome(authenticate({ headers: { AuThOrIzAtIoN: `Bearer ${alice}` } }))).toEqual({
      ok: true,
      sub: 'alice',
    });
  });
});

describe('a body that is not an object (a fetch adapter passing `await request.json()` of `null`) is a 400', () => {
  it.each([null, undefined])('revoke handler, body %p: 400 invalid_request, not a rejection (500)', async (body) => {
    const clock = testClock(1_800_000_000_000);
    const revoke = createRevokeHandler({ verifier: hmacVerifier(clock) });
    const answer = await revoke(body as unknown as Record<string, unknown>, { headers: {} });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_request' });
  });

  it.each([null, undefined])('back-channel logout handler, body %p: 400 invalid_request', async (body) => {
    const clock = testClock(1_800_000_000_000);
    const logout = createBackchannelLogoutHandler({ verifier: hmacVerifier(clock), clientId: 'api' });
    const answer = await logout(body as unknown as Record<string, unknown>);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_request' });
  });
});
