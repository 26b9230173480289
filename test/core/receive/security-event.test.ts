/**
 * Security Event Tokens (RFC 8417, pushed per RFC 8935) at the core, without a route: which CAEP
 * and RISC events cut what, every subject shape we read, the exact RFC 8935 error for each refusal
 * (a malformed subject refused before anything is recorded), replays, and that a SET acts for the
 * issuer that signed it only. SETs are signed here with keys two fake IdPs publish; time is the
 * injected clock.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AuthError,
  createVerifier,
  CREDENTIAL_CHANGE,
  IdpUnavailableError,
  processSecurityEvent,
  SecurityEventError,
  SESSION_REVOKED,
  type Verifier,
} from '../../../src/index.js';
import {
  closeFakeIdps,
  discoveryRoutes,
  serveStatus,
  signAccessToken,
  signJwt,
  startFakeIdp,
  startSigningIdps,
  type FakeIdp,
  type FakeIdpKey,
} from '../../support/fake-idp.js';
import { testClock } from '../../support/idp.js';
import { closedLater, closeVerifiers, verifierFor } from '../../support/verifier-for.js';

const RECEIVER = 'https://api.example/receiver';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
const clock = testClock();
let east: FakeIdp;
let west: FakeIdp;
let keys: Map<FakeIdp, FakeIdpKey>;

beforeAll(async () => {
  ({ east, west, keys } = await startSigningIdps());
});
afterEach(async () => {
  await closeVerifiers();
});
afterAll(async () => {
  await closeFakeIdps();
});

const keyOf = (idp: FakeIdp) => keys.get(idp)!;
const nowSec = () => Math.floor(clock() / 1000);
let jti = 0;

/** A SET of `idp` for us, issued now, with `events`; `claims` change or (undefined) remove claims. */
function securityEvent(
  idp: FakeIdp,
  events: Record<string, unknown>,
  claims: Record<string, unknown> = {},
  typ = 'secevent+jwt',
): Promise<string> {
  const all: Record<string, unknown> = {
    iss: idp.issuer,
    aud: RECEIVER,
    iat: nowSec(),
    jti: `set-${++jti}`,
    events,
    ...claims,
  };
  for (const [name, value] of Object.entries(all)) if (value === undefined) delete all[name];
  return signJwt(keyOf(idp), { typ }, all);
}

const accessToken = (idp: FakeIdp, claims: Record<string, unknown> = {}) =>
  signAccessToken(keyOf(idp), { alg: keyOf(idp).alg, kid: keyOf(idp).kid }, idp.issuer, clock, claims);

const receive = (verifier: Verifier, set: string, maxAge?: number) =>
  processSecurityEvent(verifier, set, { audience: RECEIVER, ...(maxAge !== undefined ? { maxAge } : {}) });

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof AuthError ? error.reason : `unexpected ${String(error)}`),
  );

/** The SecurityEventError a SET ends in: its RFC 8935 code and description. */
async function setError(promise: Promise<unknown>): Promise<SecurityEventError> {
  const error = await promise.then(
    () => new Error('expected a SecurityEventError, the SET was processed'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SecurityEventError);
  return error as SecurityEventError;
}

const opaque = (id: string) => ({ format: 'opaque', id });
const complex = (user: unknown, session?: string) => ({
  format: 'complex',
  ...(user !== undefined ? { user } : {}),
  ...(session !== undefined ? { session: { format: 'opaque', id: session } } : {}),
});

describe('what each event cuts', () => {
  it('CAEP session-revoked naming a session (complex subject) cuts that session only', async () => {
    const verifier = verifierFor(east, { clock });
    const inSession = await accessToken(east, { sid: 's-1' });
    const elsewhere = await accessToken(east, { sid: 's-2' });
    const set = await securityEvent(east, { [SESSION_REVOKED]: {} }, { sub_id: complex(opaque('alice'), 's-1') });
    const result = await receive(verifier, set);
    expect(result).toEqual({
      jti: `set-${jti}`,
      issuer: east.issuer,
      actions: [{ event: SESSION_REVOKED, action: 'session', id: 's-1' }],
      duplicate: false,
    });
    expect(await outcome(verifier.verify(inSession))).toBe('revoked');
    expect(await outcome(verifier.verify(elsewhere))).toBe('accepted');
  });

  it('CAEP session-revoked without a session cuts the subject', async () => {
    const verifier = verifierFor(east, { clock });
    const token = await accessToken(east);
    const result = await receive(
      verifier,
      await securityEvent(east, { [SESSION_REVOKED]: {} }, { sub_id: opaque('alice') }),
    );
    expect(result.actions).toEqual([{ event: SESSION_REVOKED, action: 'subject', id: 'alice' }]);
    expect(await outcome(verifier.verify(token))).toBe('revoked');
  });

  it.each([CREDENTIAL_CHANGE, `${RISC}sessions-revoked`, `${RISC}account-disabled`, `${RISC}account-purged`])(
    '%s cuts the subject',
    async (event) => {
      const verifier = verifierFor(east, { clock });
      const alice = await accessToken(east);
      const bob = await accessToken(east, { sub: 'bob' });
      const result = await receive(verifier, await securityEvent(east, { [event]: {} }, { sub_id: opaque('alice') }));
      expect(result.actions).toEqual([{ event, action: 'subject', id: 'alice' }]);
      expect(await outcome(verifier.verify(alice))).toBe('revoked');
      expect(await outcome(verifier.verify(bob))).toBe('accepted');
    },
  );

  it('a subject event naming a session only (complex, no user) cuts nothing', async () => {
    const verifier = verifierFor(east, { clock });
    const token = await accessToken(east, { sid: 's-1' });
    const set = await securityEvent(east, { [CREDENTIAL_CHANGE]: {} }, { sub_id: complex(undefined, 's-1') });
    expect((await receive(verifier, set)).actions).toEqual([{ event: CREDENTIAL_CHANGE, action: 'ignored' }]);
    expect(await outcome(verifier.verify(token))).toBe('accepted');
  });

  it('acknowledges an event it does not act on, and acts on the others of the same SET, in order', async () => {
    const verifier = verifierFor(east, { clock });
    const other = 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change';
    const set = await securityEvent(
      east,
      { [other]: { claims: {} }, [CREDENTIAL_CHANGE]: {}, [SESSION_REVOKED]: {} },
      { sub_id: complex(opaque('alice'), 's-9') },
    );
    expect((await receive(verifier, set)).actions).toEqual([
      { event: other, action: 'ignored' },
      { event: CREDENTIAL_CHANGE, action: 'subject', id: 'alice' },
      { event: SESSION_REVOKED, action: 'session', id: 's-9' },
    ]);
    expect(verifier.stats().revocation).toMatchObject({ subjectCutoffs: 1, sessionCutoffs: 1 });
  });

  it("cuts at the SET's own iat, not at the time it arrives", async () => {
    const verifier = verifierFor(east, { clock });
    const set = await securityEvent(east, { [CREDENTIAL_CHANGE]: {} }, { sub_id: opaque('alice') });
    clock.advance(2_000);
    const meanwhile = await accessToken(east);
    await receive(verifier, set);
    expect(await outcome(verifier.verify(meanwhile))).toBe('accepted');
  });
});

describe('where the subject comes from', () => {
  const cut = async (events: Record<string, unknown>, claims: Record<string, unknown>) => {
    const verifier = verifierFor(east, { clock });
    return (await receive(verifier, await securityEvent(east, events, claims))).actions;
  };

  it('sub_id in iss_sub form naming this issuer', async () => {
    expect(
      await cut({ [CREDENTIAL_CHANGE]: {} }, { sub_id: { format: 'iss_sub', iss: east.issuer, sub: 'alice' } }),
    ).toEqual([{ event: CREDENTIAL_CHANGE, action: 'subject', id: 'alice' }]);
  });

  it('sub_id in iss_sub form naming another issuer: ignored (a SET acts for its own issuer only)', async () => {
    expect(
      await cut({ [CREDENTIAL_CHANGE]: {} }, { sub_id: { format: 'iss_sub', iss: west.issuer, sub: 'alice' } }),
    ).toEqual([{ event: CREDENTIAL_CHANGE, action: 'ignored' }]);
  });

  it("the event's own subject member (older CAEP drafts)", async () => {
    expect(await cut({ [CREDENTIAL_CHANGE]: { subject: opaque('alice') } }, {})).toEqual([
      { event: CREDENTIAL_CHANGE, action: 'subject', id: 'alice' },
    ]);
  });

  it('a plain sub claim, as some transmitters send', async () => {
    expect(await cut({ [CREDENTIAL_CHANGE]: {} }, { sub: 'alice' })).toEqual([
      { event: CREDENTIAL_CHANGE, action: 'subject', id: 'alice' },
    ]);
  });

  it('sub_id first, then the event subject, then sub', async () => {
    expect(
      await cut(
        { [CREDENTIAL_CHANGE]: { subject: opaque('from-event') } },
        { sub_id: opaque('from-sub-id'), sub: 'x' },
      ),
    ).toEqual([{ event: CREDENTIAL_CHANGE, action: 'subject', id: 'from-sub-id' }]);
    expect(await cut({ [CREDENTIAL_CHANGE]: { subject: opaque('from-event') } }, { sub: 'x' })).toEqual([
      { event: CREDENTIAL_CHANGE, action: 'subject', id: 'from-event' },
    ]);
  });

  it.each<[string, Record<string, unknown>]>([
    ['an email subject', { sub_id: { format: 'email', email: 'alice@example.com' } }],
    ['a phone subject', { sub_id: { format: 'phone_number', phone_number: '+15551234567' } }],
    ['no subject at all', {}],
  ])('%s names nobody of ours: ignored', async (_name, claims) => {
    expect(await cut({ [CREDENTIAL_CHANGE]: {} }, claims)).toEqual([{ event: CREDENTIAL_CHANGE, action: 'ignored' }]);
  });
});

describe('refusals (RFC 8935 §2.3 codes), and nothing recorded for a malformed SET', () => {
  it.each<[string, unknown, string]>([
    ['a subject that is not an object', 'alice', 'The SET subject is not an object'],
    [
      'iss_sub without sub',
      { format: 'iss_sub', iss: 'https://idp.example' },
      'The SET subject needs a non-empty iss and sub',
    ],
    [
      'iss_sub with an empty iss',
      { format: 'iss_sub', iss: '', sub: 'alice' },
      'The SET subject needs a non-empty iss and sub',
    ],
    ['opaque with an empty id', { format: 'opaque', id: '' }, 'The SET subject needs a non-empty id'],
    ['opaque with a numeric id', { format: 'opaque', id: 7 }, 'The SET subject needs a non-empty id'],
    [
      'complex naming neither user nor session',
      { format: 'complex' },
      'The SET subject (complex) names neither user nor session',
    ],
    [
      'complex with a session without id',
      { format: 'complex', user: opaque('alice'), session: { format: 'opaque' } },
      'The SET subject (complex) needs a non-empty session id',
    ],
    [
      'complex whose user is malformed',
      { format: 'complex', user: { format: 'opaque', id: '' } },
      'The SET subject needs a non-empty id',
    ],
  ])('%s: invalid_request, and the jti stays unclaimed', async (_name, subject, description) => {
    const verifier = verifierFor(east, { clock });
    const token = await accessToken(east);
    const events = { [CREDENTIAL_CHANGE]: {}, [SESSION_REVOKED]: {} };
    const error = await setError(
      receive(verifier, await securityEvent(east, events, { sub_id: subject, jti: 'fixed' })),
    );
    expect({ err: error.err, description: error.description, message: error.message }).toEqual({
      err: 'invalid_request',
      description,
      message: description,
    });
    expect(await outcome(verifier.verify(token))).toBe('accepted');
    // The transmitter's corrected SET under the same jti is processed, not taken for a replay.
    const corrected = await receive(
      verifier,
      await securityEvent(east, events, { sub_id: opaque('alice'), jti: 'fixed' }),
    );
    expect(corrected.duplicate).toBe(false);
  });

  it('does not judge the subject of an event it ignores', async () => {
    const verifier = verifierFor(east, { clock });
    const set = await securityEvent(east, { 'https://example.com/unknown': {} }, { sub_id: 'not-an-object' });
    expect((await receive(verifier, set)).actions).toEqual([
      { event: 'https://example.com/unknown', action: 'ignored' },
    ]);
  });

  it.each<[string, unknown]>([
    ['an empty events object', {}],
    ['an events array', [{ [CREDENTIAL_CHANGE]: {} }]],
    ['an events string', CREDENTIAL_CHANGE],
  ])('%s: invalid_request "The SET has no events"', async (_name, events) => {
    const verifier = verifierFor(east, { clock });
    const set = await securityEvent(east, {}, { events });
    expect(await setError(receive(verifier, set))).toMatchObject({
      err: 'invalid_request',
      description: 'The SET has no events',
    });
  });

  it.each<[string, () => Promise<string>, string, string]>([
    [
      'another issuer',
      () => securityEvent(east, { [CREDENTIAL_CHANGE]: {} }, { iss: 'https://idp.evil.example' }),
      'invalid_issuer',
      'The SET issuer is not trusted',
    ],
    [
      'another audience',
      () => securityEvent(east, { [CREDENTIAL_CHANGE]: {} }, { aud: 'https://someone-else.example' }),
      'invalid_audience',
      'The SET audience is not this receiver',
    ],
    [
      "another issuer's key",
      () =>
        signJwt(
          keyOf(west),
          { typ: 'secevent+jwt' },
          {
            iss: east.issuer,
            aud: RECEIVER,
            iat: nowSec(),
            jti: 'forged',
            events: { [CREDENTIAL_CHANGE]: {} },
            sub_id: opaque('alice'),
          },
        ),
      'invalid_key',
      'The SET signature cannot be verified',
    ],
    [
      'a signature that does not verify',
      async () => {
        const set = await securityEvent(east, { [CREDENTIAL_CHANGE]: {} }, { sub_id: opaque('alice') });
        const [h, p, s] = set.split('.');
        return `${h}.${p}.${s!.startsWith('A') ? `B${s!.slice(1)}` : `A${s!.slice(1)}`}`;
      },
      'invalid_key',
      'The SET signature cannot be verified',
    ],
  ])('%s: %s', async (_name, make, err, description) => {
    const verifier = verifierFor(east, { clock });
    const error = await setError(receive(verifier, await make()));
    expect({ err: error.err, description: error.description }).toEqual({ err, description });
    expect(error.cause).toBeInstanceOf(AuthError);
  });

  it.each<[string, (now: number) => Record<string, unknown>, string, string]>([
    ['no jti', () => ({ jti: undefined }), 'claim_missing', 'claim_missing'],
    ['no iat', () => ({ iat: undefined }), 'claim_missing', 'claim_missing'],
    ['an iat older than maxAge (300 s + 60 s tolerance)', (now) => ({ iat: now - 361 }), 'token_expired', 'too old'],
    ['typ at+jwt', () => ({}), 'type_mismatch', 'at+jwt'],
  ])('%s: invalid_request, the cause says %s', async (_name, claims, reason, typOrNote) => {
    const verifier = verifierFor(east, { clock });
    const typ = typOrNote === 'at+jwt' ? 'at+jwt' : 'secevent+jwt';
    const set = await securityEvent(
      east,
      { [CREDENTIAL_CHANGE]: {} },
      { sub_id: opaque('a'), ...claims(nowSec()) },
      typ,
    );
    const error = await setError(receive(verifier, set));
    expect(error.err).toBe('invalid_request');
    expect((error.cause as AuthError).reason).toBe(reason);
  });

  it('honours a shorter maxAge', async () => {
    const verifier = verifierFor(east, { clock });
    const set = await securityEvent(east, { [CREDENTIAL_CHANGE]: {} }, { sub_id: opaque('alice') });
    clock.advance(121_000);
    expect(((await setError(receive(verifier, set, 60))).cause as AuthError).reason).toBe('token_expired');
    expect((await receive(verifier, set)).duplicate).toBe(false);
  });

  it("does not blame the transmitter when the issuer's keys cannot be fetched: the 503 goes through", async () => {
    const key = keyOf(east);
    const down = await startFakeIdp((base) => ({
      routes: discoveryRoutes(base, serveStatus(503, { 'retry-after': '7' })),
    }));
    keys.set(down, key);
    const verifier = verifierFor(down, { clock });
    const error = await receive(verifier, await securityEvent(down, { [CREDENTIAL_CHANGE]: {} })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IdpUnavailableError);
    expect(error).toMatchObject({ status: 503, retryAfter: 7 });
  });
});

describe('replays and issuers', () => {
  it('reports a repeat as duplicate, with the same actions (the same cutoffs, nothing newer)', async () => {
    const verifier = verifierFor(east, { clock });
    const set = await securityEvent(east, { [CREDENTIAL_CHANGE]: {} }, { sub_id: opaque('alice') });
    const first = await receive(verifier, set);
    clock.advance(1_000);
    const fresh = await accessToken(east);
    const again = await receive(verifier, set);
    expect(again).toEqual({ ...first, duplicate: true });
    expect(await outcome(verifier.verify(fresh))).toBe('accepted');
  });

  it("one issuer's SET cuts its own subject only, and the same jti from two issuers is two SETs", async () => {
    const verifier = closedLater(
      createVerifier({
        clock,
        issuers: [
          { issuer: east.issuer, audience: east.audience },
          { issuer: west.issuer, audience: west.audience, algorithms: ['ES256'] },
        ],
      }),
    );
    const eastAlice = await accessToken(east);
    const westAlice = await accessToken(west);
    const fromWest = await receive(
      verifier,
      await securityEvent(west, { [CREDENTIAL_CHANGE]: {} }, { sub_id: opaque('alice'), jti: 'shared' }),
    );
    expect(fromWest).toMatchObject({ issuer: west.issuer, duplicate: false });
    expect(await outcome(verifier.verify(westAlice))).toBe('revoked');
    expect(await outcome(verifier.verify(eastAlice))).toBe('accepted');
    const fromEast = await receive(
      verifier,
      await securityEvent(east, { [SESSION_REVOKED]: {} }, { sub_id: complex(opaque('bob'), 's-1'), jti: 'shared' }),
    );
    expect(fromEast).toMatchObject({ issuer: east.issuer, duplicate: false });
  });
});
