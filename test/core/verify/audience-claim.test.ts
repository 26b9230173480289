/**
 * `audienceClaim: 'client_id'`: Amazon Cognito access tokens carry no `aud`; they name the app
 * client in `client_id` and say `token_use: "access"`. Tokens here are shaped like Cognito's (from
 * AWS's documentation: no `typ`, `version`, `username`, `origin_jti`…) and signed with local keys,
 * published through a fake IdP's discovery and JWKS (Cognito's issuer has a path and no trailing
 * slash) or given as static `jwks`. Seen as an attacker: an ID token (its `aud` is the app client
 * ID) must never pass as an access token, in either mode; the configured claim alone decides; a
 * claim of the wrong type is refused, never searched.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createVerifier, type FetchLike, type VerifierOptions } from '../../../src/index.js';
import { refused } from '../../support/expect-refusal.js';
import {
  closeFakeIdps,
  type FakeIdp,
  type FakeIdpKey,
  fakeIdpKey,
  OIDC_DISCOVERY,
  serveJson,
  serveKeys,
  signJwt,
  startFakeIdp,
} from '../../support/fake-idp.js';
import { testClock } from '../../support/idp.js';
import { closedLater, closeVerifiers, verifierFor } from '../../support/verifier-for.js';

const POOL = '/eu-west-1_AbCdEf123';
const APP_CLIENT = '1example23456789abcdefghij';
const OTHER_CLIENT = '9other87654321zyxwvutsrqpo';
const clock = testClock();

let idp: FakeIdp;
let key: FakeIdpKey;
let issuer: string;

beforeAll(async () => {
  key = await fakeIdpKey('RS256', 'cognito-key-1');
  idp = await startFakeIdp((base) => ({
    issuer: `${base}${POOL}`,
    routes: {
      [`${POOL}${OIDC_DISCOVERY}`]: serveJson({
        issuer: `${base}${POOL}`,
        jwks_uri: `${base}${POOL}/.well-known/jwks.json`,
      }),
      [`${POOL}/.well-known/jwks.json`]: serveKeys(() => [key.jwk]),
    },
  }));
  issuer = idp.issuer;
});
afterAll(async () => {
  await closeVerifiers();
  await closeFakeIdps();
});

let jti = 0;
const seconds = () => Math.floor(clock() / 1000);

/** A Cognito access token's claims (AWS docs, "The access token"), `overrides` applied (undefined removes). */
function accessClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = seconds();
  return withOverrides(
    {
      sub: 'aaaaaaaa-bbbb-cccc-dddd-example',
      'cognito:groups': ['admin'],
      iss: issuer,
      version: 2,
      client_id: APP_CLIENT,
      origin_jti: 'aaaaaaaa-origin',
      event_id: 'cccccccc-event',
      token_use: 'access',
      scope: 'notes-api/notes.read openid',
      auth_time: iat,
      exp: iat + 3600,
      iat,
      jti: `access-${++jti}`,
      username: 'alice',
    },
    overrides,
  );
}

/** A Cognito ID token's claims: `aud` is the app client ID, `token_use: "id"`, no `client_id`. */
function idClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = seconds();
  return withOverrides(
    {
      sub: 'aaaaaaaa-bbbb-cccc-dddd-example',
      aud: APP_CLIENT,
      email_verified: true,
      token_use: 'id',
      auth_time: iat,
      iss: issuer,
      'cognito:username': 'alice',
      exp: iat + 3600,
      iat,
      jti: `id-${++jti}`,
      origin_jti: 'aaaaaaaa-origin',
      email: 'alice@example.com',
    },
    overrides,
  );
}

function withOverrides(claims: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...claims, ...overrides };
  for (const [name, value] of Object.entries(overrides)) if (value === undefined) delete merged[name];
  return merged;
}

/** Cognito's header: alg and kid, no typ. */
const sign = (claims: Record<string, unknown>, signer: FakeIdpKey = key) => signJwt(signer, { typ: undefined }, claims);

function cognitoVerifier(overrides: Partial<VerifierOptions> = {}) {
  return verifierFor(
    { issuer, audience: APP_CLIENT },
    { audienceClaim: 'client_id', allowHttp: true, clock, ...overrides },
  );
}

describe("audienceClaim: 'client_id' (Amazon Cognito access tokens)", () => {
  it('accepts a Cognito-shaped access token, keys found through discovery and the JWKS', async () => {
    const verifier = cognitoVerifier();
    const { payload, header } = await verifier.verify(await sign(accessClaims()));
    expect(payload).toMatchObject({ client_id: APP_CLIENT, token_use: 'access', username: 'alice' });
    expect(payload.aud).toBeUndefined();
    expect(header).toEqual({ alg: 'RS256', kid: 'cognito-key-1' });
    expect(idp.count(`${POOL}${OIDC_DISCOVERY}`)).toBeGreaterThan(0);
  });

  it('accepts it with static keys too (no network)', async () => {
    const noNetwork: FetchLike = () => Promise.reject(new Error('static keys must never fetch'));
    const verifier = cognitoVerifier({ jwks: { keys: [key.jwk] }, fetch: noNetwork });
    await expect(verifier.verify(await sign(accessClaims()))).resolves.toBeDefined();
  });

  it('is refused without the option, as before: no aud (claim_missing)', async () => {
    const verifier = verifierFor({ issuer, audience: APP_CLIENT }, { allowHttp: true, clock });
    await refused(verifier.verify(await sign(accessClaims())), 'claim_missing');
  });

  it('accepts any of several app clients listed in `audience`', async () => {
    const verifier = cognitoVerifier({ audience: [OTHER_CLIENT, APP_CLIENT] });
    await expect(verifier.verify(await sign(accessClaims()))).resolves.toBeDefined();
    await expect(verifier.verify(await sign(accessClaims({ client_id: OTHER_CLIENT })))).resolves.toBeDefined();
  });

  it("refuses another app client's token (audience_mismatch), and one without client_id (claim_missing)", async () => {
    const verifier = cognitoVerifier();
    await refused(verifier.verify(await sign(accessClaims({ client_id: OTHER_CLIENT }))), 'audience_mismatch');
    await refused(verifier.verify(await sign(accessClaims({ client_id: undefined }))), 'claim_missing');
    // Near misses are not matches: no trimming, no case folding, no prefix.
    for (const near of [` ${APP_CLIENT}`, APP_CLIENT.toUpperCase(), APP_CLIENT.slice(0, -1), `${APP_CLIENT}x`, ''])
      await refused(verifier.verify(await sign(accessClaims({ client_id: near }))), 'audience_mismatch');
  });

  it.each<[string, unknown]>([
    ['an array holding our client', [APP_CLIENT]],
    ['a number', 12345],
    ['an object', { id: APP_CLIENT }],
    ['null', null],
    ['true', true],
  ])('refuses a client_id that is %s (claim_invalid): never searched', async (_name, value) => {
    const verifier = cognitoVerifier();
    await refused(verifier.verify(await sign(accessClaims({ client_id: value }))), 'claim_invalid');
  });

  it('judges by client_id alone: our aud beside another client_id is refused, another aud beside ours passes', async () => {
    const verifier = cognitoVerifier();
    await refused(
      verifier.verify(await sign(accessClaims({ aud: APP_CLIENT, client_id: OTHER_CLIENT }))),
      'audience_mismatch',
    );
    await expect(
      verifier.verify(await sign(accessClaims({ aud: 'https://someone-else.example', client_id: APP_CLIENT }))),
    ).resolves.toBeDefined();
  });

  it("never takes a Cognito ID token for an access token (its aud is the app client's ID)", async () => {
    const verifier = cognitoVerifier();
    // As Cognito issues it: token_use "id" (and no client_id).
    await refused(verifier.verify(await sign(idClaims())), 'type_mismatch');
    // Even with a client_id of ours added: token_use decides first.
    await refused(verifier.verify(await sign(idClaims({ client_id: APP_CLIENT }))), 'type_mismatch');
    // Without token_use it is no ID token we can tell, but it has no client_id: refused all the same.
    await refused(verifier.verify(await sign(idClaims({ token_use: undefined }))), 'claim_missing');
  });

  it("refuses an ID token in the default mode too, even with `audience` set to the app client's ID", async () => {
    const verifier = verifierFor({ issuer, audience: APP_CLIENT }, { allowHttp: true, clock });
    await refused(verifier.verify(await sign(idClaims())), 'type_mismatch');
    // A token_use of another type, or of no string type, is refused as well; `access` passes.
    await refused(verifier.verify(await sign(idClaims({ token_use: 'refresh' }))), 'type_mismatch');
    await refused(verifier.verify(await sign(idClaims({ token_use: ['access'] }))), 'claim_invalid');
    await expect(verifier.verify(await sign(idClaims({ token_use: 'access' })))).resolves.toBeDefined();
  });

  it('keeps the default mode as it was: aud decides, client_id is only the client', async () => {
    const verifier = verifierFor({ issuer, audience: 'https://api.example.com' }, { allowHttp: true, clock });
    await expect(
      verifier.verify(await sign(accessClaims({ aud: 'https://api.example.com', client_id: OTHER_CLIENT }))),
    ).resolves.toBeDefined();
    await refused(
      verifier.verify(await sign(accessClaims({ aud: 'https://other.example.com', client_id: APP_CLIENT }))),
      'audience_mismatch',
    );
  });

  it('still checks everything else: signature, issuer, expiry', async () => {
    const verifier = cognitoVerifier();
    const stranger = await fakeIdpKey('RS256', 'cognito-key-1'); // same kid, another key
    await refused(verifier.verify(await sign(accessClaims(), stranger)), 'signature_invalid');
    await refused(verifier.verify(await sign(accessClaims({ iss: `${issuer}/` }))), 'issuer_mismatch');
    await refused(verifier.verify(await sign(accessClaims({ exp: seconds() - 60 }))), 'token_expired');
  });

  it('revoke(): a Cognito access token is ours to denylist; an ID token is not', async () => {
    const verifier = cognitoVerifier();
    const access = await sign(accessClaims());
    await expect(verifier.revoke(access)).resolves.toMatchObject({ local: 'denylisted' });
    await refused(verifier.verify(access), 'revoked');
    await expect(verifier.revoke(await sign(idClaims()))).resolves.toMatchObject({ local: 'not_ours' });
    await expect(verifier.revoke(await sign(accessClaims({ client_id: OTHER_CLIENT })))).resolves.toMatchObject({
      local: 'not_ours',
    });
  });

  it('is per issuer: a Cognito entry beside an RFC 9068 one, each judged by its own claim', async () => {
    const other = await fakeIdpKey('ES256', 'rfc9068-1');
    const rfc = await startFakeIdp((base) => ({
      routes: {
        [OIDC_DISCOVERY]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': serveKeys(() => [other.jwk]),
      },
    }));
    const verifier = closedLater(
      createVerifier({
        allowHttp: true,
        clock,
        issuers: [
          { issuer, audience: APP_CLIENT, audienceClaim: 'client_id' },
          { issuer: rfc.issuer, audience: 'https://api.example.com' },
        ],
      }),
    );
    await expect(verifier.verify(await sign(accessClaims()))).resolves.toBeDefined();
    const iat = seconds();
    const rfcToken = (claims: Record<string, unknown>) =>
      signJwt(
        other,
        { typ: 'at+jwt' },
        { iss: rfc.issuer, sub: 'bob', iat, exp: iat + 600, jti: `r-${++jti}`, ...claims },
      );
    await expect(verifier.verify(await rfcToken({ aud: 'https://api.example.com' }))).resolves.toBeDefined();
    // The RFC 9068 issuer does not take a client_id for an audience.
    await refused(verifier.verify(await rfcToken({ client_id: 'https://api.example.com' })), 'claim_missing');
  });

  it.each<[string, unknown, string]>([
    [
      'an unknown value',
      'azp',
      "`audienceClaim` must be 'aud' (the default) or 'client_id' (IdPs whose access tokens name the app client " +
        'in client_id and carry no aud, e.g. Amazon Cognito)',
    ],
    ['another spelling', 'clientId', "`audienceClaim` must be 'aud' (the default) or 'client_id'"],
    ['a non-string', true, "`audienceClaim` must be 'aud' (the default) or 'client_id'"],
  ])('refuses %s at construction', (_name, value, message) => {
    expect(() => createVerifier({ issuer, audience: APP_CLIENT, audienceClaim: value as never })).toThrow(
      new RegExp(`^revocable-jwt: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
  });
});
