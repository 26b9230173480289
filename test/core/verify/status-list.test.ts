/**
 * `createVerifier({ statusList })`: access tokens carrying `status.status_list: { idx, uri }`
 * (IETF draft-ietf-oauth-status-list) are checked against the Status List Token the embedded IdP
 * really publishes and signs. What an attacker (or a broken IdP, CDN or cache) would try: a list
 * signed by another key or issuer, of another type, for another URI, expired, replayed, oversized,
 * a decompression bomb, a list URL pointing elsewhere; and what an outage does (stale-if-error,
 * then 503). Time is the injected clock; only the background refresh waits for real I/O.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { constants, deflateSync, gzipSync } from 'node:zlib';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, type JWK, SignJWT } from 'jose';
import {
  createAuthenticator,
  createVerifier,
  HttpRequestError,
  type RejectionReason,
  type StatusListOptions,
  type VerifierOptions,
} from '../../../src/index.js';
import type { PublishedStatusList, StatusListPublishing } from '../../../example-app/embedded-idp.js';
import {
  causes,
  expectInvalid,
  expectMisconfigured,
  expectUnavailable,
  refused,
} from '../../support/expect-refusal.js';
import { attackerKey, type EmbeddedIdp, startIdp, testClock, tokenAt } from '../../support/idp.js';
import { closedLater, closeVerifiers, verifierFor } from '../../support/verifier-for.js';
import { waitFor } from '../../support/wait-for.js';

let idp: EmbeddedIdp;
let otherIdp: EmbeddedIdp;
beforeAll(async () => {
  [idp, otherIdp] = await Promise.all([startIdp(), startIdp()]);
});
afterAll(async () => {
  await closeVerifiers();
  await Promise.all([idp.close(), otherIdp.close()]);
});

type Clock = ReturnType<typeof testClock>;

/** A list of `idp` signed on `clock`, 2 bits per entry, `ttl` 60 s, `exp` an hour after `iat`, unless `options` say otherwise. */
const listOn = (clock: Clock, options: StatusListPublishing = {}) =>
  idp.createStatusList({ bits: 2, size: 64, ttl: 60, clock, ...options });

/** A token of `idp`, issued now on `clock`, valid for a day, whose status is entry `idx` of `list`. */
function tokenIn(
  list: Pick<PublishedStatusList, 'uri'>,
  idx: number,
  clock: Clock,
  claims: Record<string, unknown> = {},
) {
  const iat = Math.floor(clock() / 1000);
  return tokenAt(idp, clock(), { iat, exp: iat + 86_400, status: { status_list: { idx, uri: list.uri } }, ...claims });
}

/** A verifier of `idp` on `clock`, caching for an hour. */
const verifierOn = (clock: Clock, overrides: Partial<VerifierOptions> = {}) =>
  verifierFor(idp, { clock, cache: { max: 1000, maxTtl: 3600 }, ...overrides });

const verdict = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: { reason?: RejectionReason }) => error.reason ?? String(error),
  );

describe('tokens the IdP issues with an entry in its status list', () => {
  let issuing: EmbeddedIdp;
  beforeAll(async () => {
    issuing = await startIdp({ statusList: true });
  });
  afterAll(() => issuing.close());

  it('accepts VALID and refuses INVALID, SUSPENDED and any other status with 401 invalid_token', async () => {
    const tokens = await Promise.all([0, 1, 2, 3].map(() => issuing.issueAccessToken()));
    const entries = tokens.map((token) => decodeJwt(token).status as { status_list: { idx: number; uri: string } });
    expect(entries.map((e) => e.status_list.uri)).toEqual(tokens.map(() => `${issuing.issuer}/statuslists/1`));
    for (const [status, entry] of entries.entries()) issuing.statusList!.setStatus(entry.status_list.idx, status);
    const verifier = verifierFor(issuing);
    const rejected: string[] = [];
    verifier.on('rejected', ({ reason }) => rejected.push(reason));
    expect((await verifier.verify(tokens[0]!)).payload.sub).toBe(issuing.client.clientId);
    const refusals: Array<[number, RejectionReason, string]> = [
      [1, 'token_status_invalid', 'The access token has been revoked by its issuer'],
      [2, 'token_status_suspended', 'The access token is suspended by its issuer'],
      [3, 'token_status_unknown', 'The access token has a status this resource does not accept'],
    ];
    for (const [status, reason, description] of refusals) {
      const error = expectInvalid(await refused(verifier.verify(tokens[status]!)), reason);
      expect(error.description).toBe(description);
      expect(error.headers['WWW-Authenticate']).toContain('error="invalid_token"');
    }
    expect(rejected).toEqual(['token_status_invalid', 'token_status_suspended', 'token_status_unknown']);
    // One list, fetched once, for all four tokens.
    expect(verifier.stats().statusLists).toEqual({ lists: 1, fetches: 1, failures: 0 });
  });

  it('answers through a guard: 401 with the challenge for a revoked token, the token for a valid one', async () => {
    const [valid, revoked] = await Promise.all([issuing.issueAccessToken(), issuing.issueAccessToken()]);
    issuing.statusList!.setStatus((decodeJwt(revoked).status as { status_list: { idx: number } }).status_list.idx, 1);
    const authenticate = createAuthenticator({ verifier: verifierFor(issuing), scopes: ['notes:read'] });
    const answer = (token: string) => authenticate({ headers: { authorization: `Bearer ${token}` } });
    expect(await answer(valid)).toMatchObject({ ok: true });
    expect(await answer(revoked)).toMatchObject({
      ok: false,
      status: 401,
      headers: { 'WWW-Authenticate': expect.stringContaining('revoked by its issuer') },
      error: { reason: 'token_status_invalid' },
    });
  });
});

describe('a cached token sees its status change', () => {
  it('once the list is fetched again after its ttl, both ways (a suspension can be lifted)', async () => {
    const clock = testClock();
    const list = listOn(clock);
    const verifier = verifierOn(clock);
    const token = await tokenIn(list, 7, clock);
    await verifier.verify(token);
    list.setStatus(7, 1);
    // The list held is fresh for its ttl: the cached token is served without asking the IdP.
    clock.advance(59_000);
    expect(verifier.peek(token)).toBeDefined();
    expect(await verdict(verifier.verify(token))).toBe('accepted');
    expect(list.requests).toBe(1);
    clock.advance(1_000);
    expect(verifier.peek(token)).toBeUndefined(); // due: a synchronous look-up cannot decide
    expect(await verdict(verifier.verify(token))).toBe('token_status_invalid');
    expect(list.requests).toBe(2);
    // Still cached: every hit re-reads the bit of the list held, without fetching it again.
    expect(verifier.stats().cache.size).toBe(1);
    expect(await verdict(verifier.verify(token))).toBe('token_status_invalid');
    list.setStatus(7, 2);
    clock.advance(60_000);
    expect(await verdict(verifier.verify(token))).toBe('token_status_suspended');
    list.setStatus(7, 0);
    clock.advance(60_000);
    expect(await verdict(verifier.verify(token))).toBe('accepted');
    const hits = verifier.stats().cache.hits;
    expect(verifier.peek(token)).toBeDefined();
    expect(verifier.stats().cache.hits).toBe(hits + 1);
    expect(list.requests).toBe(4);
  });

  it('refetches in the background before the list is due, so hits never wait for it', async () => {
    const clock = testClock();
    const list = listOn(clock, { ttl: 60 }); // refreshAhead 30 s: refetched from 30 s on
    const verifier = verifierOn(clock);
    const token = await tokenIn(list, 3, clock);
    await verifier.verify(token);
    list.setStatus(3, 1);
    clock.advance(29_000);
    expect(verifier.peek(token)).toBeDefined();
    expect(list.requests).toBe(1);
    clock.advance(1_000);
    expect(verifier.peek(token)).toBeDefined(); // answered from the list held, and a fetch started
    await waitFor(() => verifier.peek(token) === undefined, 'the refreshed list to refuse the token');
    expect(list.requests).toBe(2);
    expect(await verdict(verifier.verify(token))).toBe('token_status_invalid');
  });

  it('follows the list’s own ttl within minTtl..maxTtl', async () => {
    const clock = testClock();
    const short = listOn(clock, { ttl: 1 });
    const long = listOn(clock, { ttl: 86_400 });
    const verifier = verifierOn(clock, { statusList: { minTtl: 20, maxTtl: 120, refreshAhead: 0 } });
    const [a, b] = await Promise.all([tokenIn(short, 1, clock), tokenIn(long, 1, clock)]);
    await Promise.all([verifier.verify(a), verifier.verify(b)]);
    short.setStatus(1, 1);
    long.setStatus(1, 1);
    clock.advance(19_000); // past the ttl of 1 s, within minTtl
    expect(await verdict(verifier.verify(a))).toBe('accepted');
    clock.advance(1_000);
    expect(await verdict(verifier.verify(a))).toBe('token_status_invalid');
    clock.advance(99_000); // 119 s: within maxTtl, far within the ttl of a day
    expect(await verdict(verifier.verify(b))).toBe('accepted');
    clock.advance(1_000);
    expect(await verdict(verifier.verify(b))).toBe('token_status_invalid');
  });
});

describe('bits per entry', () => {
  it.each([1, 2, 4, 8] as const)('%i bit(s): every entry read where the IdP wrote it', async (bits) => {
    const clock = testClock();
    const list = listOn(clock, { bits, size: 64 });
    const top = 2 ** bits - 1;
    const statuses = new Map<number, number>([
      [0, 1],
      [5, top],
      [9, 0],
      [62, bits >= 2 ? 2 : 1],
      [63, 1],
    ]);
    for (const [idx, status] of statuses) list.setStatus(idx, status);
    const verifier = verifierOn(clock);
    const expected = (status: number) =>
      ['accepted', 'token_status_invalid', 'token_status_suspended'][status] ?? 'token_status_unknown';
    for (const idx of [0, 1, 4, 5, 6, 8, 9, 10, 61, 62, 63]) {
      const token = await tokenIn(list, idx, clock);
      expect([idx, await verdict(verifier.verify(token))]).toEqual([idx, expected(statuses.get(idx) ?? 0)]);
    }
    expect(list.requests).toBe(1);
  });

  it('refuses an index past the end of the list: no statement can be made (token_status_out_of_range)', async () => {
    const clock = testClock();
    const list = listOn(clock, { bits: 2, size: 16 });
    const verifier = verifierOn(clock);
    expect(await verdict(verifier.verify(await tokenIn(list, 15, clock)))).toBe('accepted');
    for (const idx of [16, 1_000_000, Number.MAX_SAFE_INTEGER]) {
      expectInvalid(await refused(verifier.verify(await tokenIn(list, idx, clock))), 'token_status_out_of_range');
    }
  });
});

describe('the status claim', () => {
  it.each<[string, unknown]>([
    ['status is a string', 'revoked'],
    ['status is an array', [{ status_list: { idx: 0, uri: 'x' } }]],
    ['status_list is a string', { status_list: 'x' }],
    ['idx is negative', { status_list: { idx: -1, uri: 'URI' } }],
    ['idx is a fraction', { status_list: { idx: 1.5, uri: 'URI' } }],
    ['idx is a string', { status_list: { idx: '1', uri: 'URI' } }],
    ['idx is beyond 2^53', { status_list: { idx: 2 ** 60, uri: 'URI' } }],
    ['idx is missing', { status_list: { uri: 'URI' } }],
    ['uri is a number', { status_list: { idx: 0, uri: 42 } }],
    ['uri is empty', { status_list: { idx: 0, uri: '' } }],
  ])('is refused as claim_invalid when %s, and nothing is fetched', async (_name, status) => {
    const clock = testClock();
    const list = listOn(clock);
    const verifier = verifierOn(clock);
    const claim = JSON.parse(JSON.stringify(status).replace('"URI"', JSON.stringify(list.uri))) as unknown;
    const token = await tokenAt(idp, clock(), { status: claim });
    expectInvalid(await refused(verifier.verify(token)), 'claim_invalid');
    expect(list.requests).toBe(0);
  });

  it('a status naming only another mechanism is not ours to check', async () => {
    const clock = testClock();
    const verifier = verifierOn(clock);
    const token = await tokenAt(idp, clock(), { status: { other_mechanism: { anything: 1 } } });
    expect(await verdict(verifier.verify(token))).toBe('accepted');
    expect(verifier.stats().statusLists.fetches).toBe(0);
  });

  it("mode 'required' refuses a token without status_list; 'off' ignores the list entirely", async () => {
    const clock = testClock();
    const list = listOn(clock);
    list.setStatus(1, 1);
    const required = verifierOn(clock, { statusList: { mode: 'required' } });
    expectInvalid(await refused(required.verify(await tokenAt(idp, clock()))), 'claim_missing');
    const otherOnly = await tokenAt(idp, clock(), { status: { other_mechanism: {} } });
    expectInvalid(await refused(required.verify(otherOnly)), 'claim_missing');
    expect(await verdict(required.verify(await tokenIn(list, 0, clock)))).toBe('accepted');
    const off = verifierOn(clock, { statusList: { mode: 'off' } });
    expect(await verdict(off.verify(await tokenIn(list, 1, clock)))).toBe('accepted');
    expect(off.stats().statusLists).toEqual({ lists: 0, fetches: 0, failures: 0 });
  });
});

/** The kinds of HttpRequestError in the cause chain of a refusal. */
const failureKinds = (error: unknown) =>
  causes(error)
    .filter((e): e is HttpRequestError => e instanceof HttpRequestError)
    .map((e) => e.kind);

describe('a list we do not believe is no list: 503, never a 401 for the token, never a pass', () => {
  type Key = Pick<Awaited<ReturnType<typeof attackerKey>>, 'alg' | 'kid' | 'privateKey'>;
  const resign = async (jwt: string, key: Key) =>
    new SignJWT(decodeJwt(jwt))
      .setProtectedHeader({ ...decodeProtectedHeader(jwt), alg: key.alg, kid: key.kid })
      .sign(key.privateKey);
  const now = (clock: Clock) => Math.floor(clock() / 1000);

  it.each<[string, (list: PublishedStatusList, clock: Clock) => Promise<string | Uint8Array>, string, RegExp?]>([
    ['signed by another key', async (list) => resign(await list.token(), await attackerKey('RS256')), 'invalid_body'],
    [
      'signed by another key under the IdP’s kid',
      async (list) => resign(await list.token(), { ...(await attackerKey('RS256')), kid: idp.keys[0]!.kid }),
      'invalid_body',
      /signature_invalid/,
    ],
    [
      'signed by another issuer (its own list, its own key)',
      async (list, clock) => otherIdp.createStatusList({ ttl: 60, clock }).token({ claims: { sub: list.uri } }),
      'invalid_body',
      /key_not_found/,
    ],
    ['naming another issuer', (list) => list.token({ claims: { iss: otherIdp.issuer } }), 'invalid_body'],
    ['of another type (typ: JWT)', (list) => list.token({ header: { typ: 'JWT' } }), 'invalid_body', /type_mismatch/],
    ['of the access-token type', (list) => list.token({ header: { typ: 'at+jwt' } }), 'invalid_body'],
    ['without a type', (list) => list.token({ header: { typ: undefined } }), 'invalid_body'],
    ['for another URI (sub)', (list) => list.token({ claims: { sub: `${list.uri}/other` } }), 'invalid_body'],
    ['without sub', (list) => list.token({ claims: { sub: undefined } }), 'invalid_body'],
    ['expired', (list, clock) => list.token({ claims: { exp: now(clock) - 60 } }), 'invalid_body', /token_expired/],
    ['issued in the future', (list, clock) => list.token({ claims: { iat: now(clock) + 3600 } }), 'invalid_body'],
    ['with a ttl of 0', (list) => list.token({ claims: { ttl: 0 } }), 'invalid_body'],
    ['with a ttl that is a string', (list) => list.token({ claims: { ttl: '60' } }), 'invalid_body'],
    [
      'with 3 bits per entry',
      (list) => list.token({ claims: { status_list: { bits: 3, lst: 'eJwDAAAAAAE' } } }),
      'invalid_body',
    ],
    ['without lst', (list) => list.token({ claims: { status_list: { bits: 1 } } }), 'invalid_body'],
    [
      'whose lst is not ZLIB',
      (list) =>
        list.token({ claims: { status_list: { bits: 1, lst: gzipSync(Buffer.alloc(8)).toString('base64url') } } }),
      'invalid_body',
    ],
    [
      'whose lst inflates to 64 MiB (a decompression bomb)',
      (list) =>
        list.token({
          claims: {
            status_list: {
              bits: 1,
              lst: deflateSync(Buffer.alloc(64 * 1024 * 1024), { strategy: constants.Z_RLE }).toString('base64url'),
            },
          },
        }),
      'too_large',
      /inflates to more than the 4194304-byte limit/,
    ],
    [
      'larger than maxTokenBytes',
      (list) => list.token({ claims: { padding: 'x'.repeat(300_000) } }),
      'too_large',
      /more than the 262144-byte limit/,
    ],
    ['not a JWT at all', async () => '<html>maintenance</html>', 'invalid_body'],
    ['unsigned (alg: none)', async (list) => unsigned(await list.token()), 'invalid_body'],
  ])('a list %s', async (...row) => {
    // A rest parameter: jest would pass `done` as a 4th argument to rows without a message.
    const [, serve, kind, message] = row;
    const clock = testClock();
    const list = listOn(clock);
    const body = await serve(list, clock);
    list.serve({ body });
    const verifier = verifierOn(clock, { statusList: { maxTokenBytes: 262_144 } });
    const started = performance.now();
    const error = expectUnavailable(await refused(verifier.verify(await tokenIn(list, 0, clock))));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(failureKinds(error)).toContain(kind);
    if (message)
      expect(
        causes(error)
          .map((e) => (e as Error).message)
          .join(' | '),
      ).toMatch(message);
    expect(verifier.stats().statusLists).toMatchObject({ fetches: 1, failures: 1 });
  });

  it.each<[string, { status: number; headers?: Record<string, string> }, string]>([
    ['an error status', { status: 500 }, 'status'],
    ['a redirect (never followed)', { status: 302, headers: { location: 'http://169.254.169.254/' } }, 'redirect'],
    ['404', { status: 404 }, 'status'],
  ])('%s', async (_name, answer, kind) => {
    const clock = testClock();
    const list = listOn(clock);
    list.serve(answer);
    const verifier = verifierOn(clock);
    const error = expectUnavailable(await refused(verifier.verify(await tokenIn(list, 0, clock))));
    expect(failureKinds(error)).toContain(kind);
  });

  it('keeps the newer list when an older one is served again (a replay would un-revoke tokens)', async () => {
    const clock = testClock();
    const list = listOn(clock);
    const verifier = verifierOn(clock);
    const token = await tokenIn(list, 4, clock);
    const old = await list.token(); // entry 4 VALID
    await verifier.verify(token);
    clock.advance(1_000);
    list.setStatus(4, 1);
    clock.advance(60_000);
    expect(await verdict(verifier.verify(token))).toBe('token_status_invalid');
    list.serve({ body: old });
    clock.advance(60_000);
    expect(await verdict(verifier.verify(token))).toBe('token_status_invalid');
    expect(verifier.stats().statusLists).toMatchObject({ fetches: 3, failures: 1 });
    expect(verifier.stats().statusLists.failures).toBe(1);
  });

  it('asks for application/statuslist+jwt', async () => {
    const seen: string[] = [];
    const clock = testClock();
    const list = listOn(clock);
    const verifier = verifierOn(clock, {
      fetch: (input, init) => {
        if (String(input) === list.uri) seen.push(new Headers(init?.headers).get('accept') ?? '');
        return fetch(input, init);
      },
    });
    await verifier.verify(await tokenIn(list, 0, clock));
    expect(seen).toEqual(['application/statuslist+jwt']);
  });
});

describe('when the IdP cannot give a fresh list', () => {
  it('keeps using the list held for staleIfError past due, then refuses with 503 and Retry-After; heals', async () => {
    const clock = testClock();
    const list = listOn(clock, { ttl: 60 });
    const verifier = verifierOn(clock, { statusList: { staleIfError: 120, refreshAhead: 0 } });
    const [token, revoked] = await Promise.all([tokenIn(list, 1, clock), tokenIn(list, 2, clock)]);
    list.setStatus(2, 1);
    await verifier.verify(token);
    expect(await verdict(verifier.verify(revoked))).toBe('token_status_invalid');
    await idp.pause();
    try {
      clock.advance(60_000); // due: the fetch fails, the list held answers
      expect(await verdict(verifier.verify(token))).toBe('accepted');
      expect(await verdict(verifier.verify(revoked))).toBe('token_status_invalid'); // stale still refuses
      expect(verifier.peek(token)).toBeDefined();
      const failures = verifier.stats().statusLists.failures;
      expect(failures).toBeGreaterThanOrEqual(1);
      clock.advance(119_999);
      expect(await verdict(verifier.verify(token))).toBe('accepted');
      clock.advance(1);
      const error = expectUnavailable(await refused(verifier.verify(token)));
      expect(error.description).toBe('The token status list of the identity provider cannot be fetched');
      expect(failureKinds(error)).toContain('network');
      expect(verifier.peek(token)).toBeUndefined();
    } finally {
      await idp.resume();
    }
    clock.advance(30_000); // past the backoff
    expect(await verdict(verifier.verify(token))).toBe('accepted');
    expect(verifier.peek(token)).toBeDefined();
  });

  it('never uses a list past its exp, whatever staleIfError says', async () => {
    const clock = testClock();
    const list = listOn(clock, { ttl: 60, lifetime: 90 });
    const verifier = verifierOn(clock, { statusList: { staleIfError: 3600, refreshAhead: 0 } });
    const token = await tokenIn(list, 1, clock);
    await verifier.verify(token);
    list.serve({ status: 503 });
    clock.advance(60_000);
    expect(await verdict(verifier.verify(token))).toBe('accepted');
    clock.advance(35_000); // exp + clockTolerance (5 s) passed
    expectUnavailable(await refused(verifier.verify(token)));
  });

  it('with staleIfError 0, refuses as soon as the list is due and cannot be fetched', async () => {
    const clock = testClock();
    const list = listOn(clock, { ttl: 60 });
    const verifier = verifierOn(clock, { statusList: { staleIfError: 0, refreshAhead: 0 } });
    const token = await tokenIn(list, 1, clock);
    await verifier.verify(token);
    list.serve({ status: 503, headers: { 'retry-after': '7' } });
    clock.advance(60_000);
    const error = expectUnavailable(await refused(verifier.verify(token)));
    expect(error.retryAfter).toBe(7);
    // Backing off: the next request is refused without asking the IdP again.
    const requests = list.requests;
    expectUnavailable(await refused(verifier.verify(token)));
    expect(list.requests).toBe(requests);
  });

  it('a first list that cannot be fetched is a 503, not a pass', async () => {
    const clock = testClock();
    const list = listOn(clock);
    list.serve({ status: 500 });
    const verifier = verifierOn(clock);
    expectUnavailable(await refused(verifier.verify(await tokenIn(list, 0, clock))));
    list.serve(undefined);
    clock.advance(1_000);
    expect(await verdict(verifier.verify(await tokenIn(list, 0, clock)))).toBe('accepted');
  });
});

describe('fetching', () => {
  it('coalesces concurrent first tokens of one list into one request', async () => {
    const clock = testClock();
    const [one, two] = [listOn(clock), listOn(clock)];
    const verifier = verifierOn(clock);
    const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => tokenIn(i % 2 ? one : two, i, clock)));
    const verdicts = await Promise.all(tokens.map((token) => verdict(verifier.verify(token))));
    expect(new Set(verdicts)).toEqual(new Set(['accepted']));
    expect([one.requests, two.requests]).toEqual([1, 1]);
    expect(verifier.stats().statusLists).toEqual({ lists: 2, fetches: 2, failures: 0 });
  });

  it('keeps at most maxLists lists; a cached token of a dropped list has it fetched again', async () => {
    const clock = testClock();
    const lists = [listOn(clock), listOn(clock), listOn(clock)];
    const verifier = verifierOn(clock, { statusList: { maxLists: 2 } });
    const tokens = await Promise.all(lists.map((list) => tokenIn(list, 0, clock)));
    for (const token of tokens) await verifier.verify(token);
    expect(verifier.stats().statusLists.lists).toBe(2);
    lists[0]!.setStatus(0, 1);
    expect(verifier.peek(tokens[0]!)).toBeUndefined(); // its list was dropped, array and all
    expect(await verdict(verifier.verify(tokens[0]!))).toBe('token_status_invalid');
    expect(lists.map((list) => list.requests)).toEqual([2, 1, 1]);
    expect(verifier.stats().statusLists.lists).toBe(2);
  });
});

describe('where lists may be fetched from', () => {
  /** A verifier whose every request is recorded (by origin), so "nothing fetched" is checked, not assumed. */
  function watchedVerifier(clock: Clock, options: Partial<VerifierOptions> = {}) {
    const fetched: string[] = [];
    const verifier = verifierOn(clock, {
      ...options,
      fetch: (input, init) => {
        fetched.push(new URL(String(input)).origin);
        return fetch(input, init);
      },
    });
    return { verifier, fetched };
  }

  it.each<[string, (port: string) => string, RegExp]>([
    ['another host', () => 'https://status.attacker.example/lists/1', /statusList\.allowedOrigins/],
    ['the issuer’s host on another port', (port) => `http://127.0.0.1:${Number(port) + 1}/lists/1`, /allowedOrigins/],
    ['another loopback address', (port) => `http://127.0.0.2:${port}/statuslists/1`, /allowedOrigins/],
    ['an internal address over plain http', () => 'http://169.254.169.254/latest/meta-data', /https/],
    ['the issuer with userinfo', (port) => `http://user:pw@127.0.0.1:${port}/statuslists/1`, /userinfo/],
    ['a file', () => 'file:///etc/passwd', /https/],
  ])('refuses a list on %s as a misconfiguration (500), without fetching it', async (_name, uriFor, message) => {
    const clock = testClock();
    const { verifier, fetched } = watchedVerifier(clock);
    const events: Array<{ source: string; message: string }> = [];
    verifier.on('misconfigured', (event) => events.push(event));
    const uri = uriFor(new URL(idp.issuer).port);
    const error = expectMisconfigured(await refused(verifier.verify(await tokenIn({ uri }, 0, clock))));
    expect(error.message).toMatch(message);
    expect(fetched.every((origin) => origin === idp.issuer)).toBe(true);
    expect(events).toEqual([{ source: 'status-list', message: error.message, issuer: idp.issuer }]);
    expect(verifier.stats().misconfigured).toBe(error.message);
    expect(verifier.stats().statusLists.fetches).toBe(0);
  });

  describe('another origin', () => {
    let mirror: Server;
    let mirrorOrigin: string;
    let list: PublishedStatusList;
    let clock: Clock;
    beforeAll(async () => {
      clock = testClock();
      list = listOn(clock);
      // Serves the IdP's JWKS and the IdP's list, re-issued for this origin (signed by the IdP).
      mirror = createServer((req, res) => {
        const reply = async () => {
          if (req.url === '/keys') return (await fetch(`${idp.issuer}/jwks`)).text();
          return list.token({ claims: { sub: `${mirrorOrigin}${req.url}` } });
        };
        reply().then((body) => res.end(body));
      });
      await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
      mirrorOrigin = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => mirror.close(() => resolve())));

    it('is allowed when listed in allowedOrigins', async () => {
      const token = await tokenIn({ uri: `${mirrorOrigin}/lists/1` }, 0, clock);
      expectMisconfigured(await refused(verifierOn(clock).verify(token)));
      const allowed = verifierOn(clock, { statusList: { allowedOrigins: [mirrorOrigin] } });
      expect(await verdict(allowed.verify(token))).toBe('accepted');
    });

    it('is allowed when it is the JWKS’s origin', async () => {
      const token = await tokenIn({ uri: `${mirrorOrigin}/lists/2` }, 0, clock);
      const verifier = verifierOn(clock, { jwksUri: `${mirrorOrigin}/keys` });
      expect(await verdict(verifier.verify(token))).toBe('accepted');
    });
  });

  it('with keys given (jwks), only the issuer’s origin and allowedOrigins', async () => {
    const clock = testClock();
    const list = listOn(clock);
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: JWK[] };
    const verifier = verifierOn(clock, { jwks });
    expect(await verdict(verifier.verify(await tokenIn(list, 0, clock)))).toBe('accepted');
  });
});

describe('options', () => {
  it.each<[string, unknown, RegExp]>([
    [
      'an unknown key',
      { maxTTL: 60 },
      /unknown option `statusList.maxTTL` in createVerifier; did you mean `statusList.maxTtl`/,
    ],
    ['a mode that does not exist', { mode: 'on' }, /`statusList.mode` must be one of when-present, required, off/],
    ['a string', 'on', /`statusList` must be an object/],
    ['allowedOrigins as a string', { allowedOrigins: 'https://status.example' }, /must be an array of origins/],
    ['an origin with a path', { allowedOrigins: ['https://status.example/lists'] }, /origins only/],
    ['an http origin', { allowedOrigins: ['http://status.example'] }, /uses http on a non-loopback host/],
    ['a non-URL origin', { allowedOrigins: ['status.example'] }, /not a valid absolute URL/],
    ['minTtl above maxTtl', { minTtl: 600, maxTtl: 60 }, /`statusList.minTtl` must not exceed `statusList.maxTtl`/],
    ['a negative staleIfError', { staleIfError: -1 }, /`statusList.staleIfError` must be a number of seconds >= 0/],
    ['maxLists 0', { maxLists: 0 }, /`statusList.maxLists` must be a whole number of lists > 0/],
    ['a fractional maxListBytes', { maxListBytes: 1.5 }, /`statusList.maxListBytes` must be a whole number of bytes/],
  ])('refuses %s at construction', (_name, statusList, message) => {
    expect(() =>
      createVerifier({ issuer: idp.issuer, audience: idp.audience, statusList: statusList as StatusListOptions }),
    ).toThrow(message);
  });

  it('names the issuer entry of a multi-issuer verifier', () => {
    expect(() =>
      createVerifier({
        issuers: [{ issuer: idp.issuer, audience: 'api', statusList: { mode: 'sometimes' as 'off' } }],
      }),
    ).toThrow(/`issuers\[0\]\.statusList\.mode`/);
  });

  it('takes allowHttp for plain-http origins, and does no I/O at construction', () => {
    const fetched: string[] = [];
    closedLater(
      createVerifier({
        issuer: idp.issuer,
        audience: idp.audience,
        allowHttp: true,
        fetch: (input) => {
          fetched.push(String(input));
          return Promise.reject(new Error('no I/O expected'));
        },
        statusList: { allowedOrigins: ['http://status.example'] },
      }),
    );
    expect(fetched).toEqual([]);
  });
});

/** `jwt` re-encoded with `alg: none` and no signature. */
function unsigned(jwt: string): string {
  const [, payload] = jwt.split('.');
  return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'statuslist+jwt' })).toString('base64url')}.${payload}.`;
}
