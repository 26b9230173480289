/**
 * `revocable-jwt doctor` against a real IdP (the embedded oidc-provider) and against small broken
 * ones (fake-idp.ts): an issuer with or without its trailing slash, HTML where JSON belongs, an IdP
 * that never answers, a JWKS that cannot be reached or holds no usable key, a clock set ahead in
 * the `Date` header; and tokens refused for each reason the doctor explains. Run in process through
 * runCli (the executable is a three-line wrapper; test/package runs the packed one).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import { runCli } from '../../src/cli/cli.js';
import type { Check, DoctorReport } from '../../src/cli/report.js';
import {
  closeFakeIdps,
  discoveryRoutes,
  FAKE_AUDIENCE,
  fakeIdpKey,
  type FakeIdpKey,
  hang,
  OIDC_DISCOVERY,
  type Route,
  serveJson,
  serveKeys,
  serveRaw,
  signAccessToken,
  signJwt,
  startFakeIdp,
} from '../support/fake-idp.js';
import { startStubServer } from '../support/http.js';
import { type EmbeddedIdp, rawToken, startIdp } from '../support/idp.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], stdin = ''): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    readStdin: async () => stdin,
    color: false,
  });
  return { code, stdout, stderr };
}

/** Runs `doctor --json` and returns the exit code and the report. */
async function doctor(issuer: string, audience: string, extra: string[] = []) {
  const run = await cli(['doctor', '--issuer', issuer, '--audience', audience, '--json', ...extra]);
  const report = JSON.parse(run.stdout) as DoctorReport;
  const byId = (id: string): Check => {
    const found = report.checks.find((c) => c.id === id);
    if (found === undefined) throw new Error(`no check ${id} in ${report.checks.map((c) => c.id).join(', ')}`);
    return found;
  };
  return {
    code: run.code,
    report,
    check: byId,
    statuses: Object.fromEntries(report.checks.map((c) => [c.id, c.status])),
  };
}

const now = () => Date.now();

describe('doctor against the embedded oidc-provider', () => {
  let idp: EmbeddedIdp;
  beforeAll(async () => {
    idp = await startIdp();
  });
  afterAll(() => idp.close());

  it('passes every check for the right settings and a token the IdP issued, and exits 0', async () => {
    const token = await idp.issueAccessToken();
    const { code, report, statuses, check } = await doctor(idp.issuer, idp.audience, ['--token', token]);
    expect(statuses).toEqual({
      configuration: 'ok',
      discovery: 'ok',
      jwks: 'ok',
      clock: 'ok',
      revocation: 'ok',
      introspection: 'ok',
      'backchannel-logout': 'ok',
      'token.header': 'ok',
      'token.key': 'ok',
      'token.issuer': 'ok',
      'token.audience': 'ok',
      'token.time': 'ok',
      'token.scopes': 'info',
      'token.binding': 'info',
      'token.verdict': 'ok',
    });
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(check('jwks').summary).toMatch(/1 signing key\(s\) usable of 1$/);
    expect(check('token.key').summary).toBe(`kid ${idp.keys[0]!.kid} found: RSA key for RS256`);
    expect(check('token.scopes').data).toEqual({ scopes: ['notes:read', 'notes:write'] });
    expect(check('token.verdict').summary).toBe('accepted by the verifier: sub "notes-api", client "notes-api"');
    // oidc-provider lists no per-endpoint auth methods: RFC 8414's default applies.
    expect(check('revocation').data).toMatchObject({ usableAuthMethods: ['client_secret_basic'] });
    expect(check('backchannel-logout').data).toEqual({ supported: true, sessionSupported: true });
  });

  it('explains an issuer configured with a trailing slash the IdP does not have, in discovery and in the token', async () => {
    const token = await idp.issueAccessToken();
    const { code, check } = await doctor(`${idp.issuer}/`, idp.audience, ['--token', token]);
    expect(code).toBe(1);
    expect(check('discovery')).toMatchObject({
      status: 'fail',
      summary: `issuer mismatch: the IdP's metadata names "${idp.issuer}"`,
      data: { advertisedIssuer: idp.issuer },
    });
    expect(check('discovery').details[0]).toBe(
      `yours ends with a slash and the IdP's issuer does not: use exactly "${idp.issuer}"`,
    );
    expect(check('token.issuer').details[0]).toBe(check('discovery').details[0]);
    // The verdict is the verifier's own, with the library's message.
    expect(check('token.verdict')).toMatchObject({ status: 'fail', data: { reason: 'misconfigured', status: 500 } });
    expect(check('token.verdict').details[0]).toMatch(/trailing slash included/);
  });

  it('says why a token for another API is refused: aud, with the verifier`s reason', async () => {
    const token = await idp.issueAccessToken();
    const { code, check } = await doctor(idp.issuer, 'https://other-api.example', ['--token', token]);
    expect(code).toBe(1);
    expect(check('token.audience')).toMatchObject({
      status: 'fail',
      summary: `aud "${idp.audience}" does not contain "https://other-api.example"`,
    });
    expect(check('token.verdict')).toMatchObject({
      status: 'fail',
      data: { reason: 'audience_mismatch', status: 401 },
    });
  });

  it('requires typ when asked to, as the verifier does', async () => {
    const token = await idp.issueAccessToken();
    const { check } = await doctor(idp.issuer, idp.audience, ['--token', token, '--typ', 'jwt']);
    expect(check('token.header')).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(/requires typ jwt$/),
    });
    expect(check('token.verdict').data).toMatchObject({ reason: 'type_mismatch' });
  });
});

describe('doctor against broken IdPs', () => {
  afterEach(closeFakeIdps);
  let key: FakeIdpKey;
  beforeAll(async () => {
    key = await fakeIdpKey('ES256', 'k1');
  });

  /** A fake IdP publishing `key`, with `metadata` added to its discovery document. */
  const idpWith = (metadata: Record<string, unknown> = {}, routes: Record<string, Route> = {}, issuerSuffix = '') =>
    startFakeIdp((base) => ({
      issuer: `${base}${issuerSuffix}`,
      routes: {
        ...discoveryRoutes(
          base,
          serveKeys(() => [key.jwk]),
        ),
        [OIDC_DISCOVERY]: serveJson({ issuer: `${base}${issuerSuffix}`, jwks_uri: `${base}/keys`, ...metadata }),
        ...routes,
      },
    }));

  it('explains an IdP whose issuer has a trailing slash (as Auth0`s does) configured without it', async () => {
    const fake = await idpWith({}, {}, '/');
    const { code, check } = await doctor(fake.base, FAKE_AUDIENCE);
    expect(code).toBe(1);
    expect(check('discovery').details[0]).toBe(
      `the IdP's issuer ends with a slash and yours does not: use exactly "${fake.base}/"`,
    );
    // And configured with it, everything passes.
    const fixed = await doctor(`${fake.base}/`, FAKE_AUDIENCE);
    expect(fixed.check('discovery').status).toBe('ok');
    expect(fixed.code).toBe(0);
  });

  it('explains an issuer on another host, and one that differs in case', async () => {
    const elsewhere = await startFakeIdp(() => ({
      routes: { [OIDC_DISCOVERY]: serveJson({ issuer: 'https://login.example.com/tenant', jwks_uri: 'x' }) },
    }));
    const { check } = await doctor(elsewhere.base, FAKE_AUDIENCE);
    expect(check('discovery').details[0]).toMatch(/^the IdP names another host \(login\.example\.com\)/);

    // OpenID Connect Discovery appends the well-known path to the issuer's path.
    const upper = await startFakeIdp((base) => ({
      routes: { [`/realm${OIDC_DISCOVERY}`]: serveJson({ issuer: `${base}/Realm`, jwks_uri: `${base}/keys` }) },
    }));
    const cased = await doctor(`${upper.base}/realm`, FAKE_AUDIENCE);
    expect(cased.check('discovery').details[0]).toBe(
      `the two differ in letter case only: use exactly "${upper.base}/Realm"`,
    );
  });

  it('says there is no discovery document when both well-known locations answer 404', async () => {
    const empty = await startFakeIdp(() => ({ routes: {} }));
    const { code, check } = await doctor(empty.base, FAKE_AUDIENCE);
    expect(code).toBe(1);
    expect(check('discovery')).toMatchObject({ status: 'fail', summary: 'no discovery document for this issuer' });
    expect(check('discovery').details).toContain(
      `tried ${empty.base}/.well-known/openid-configuration and ${empty.base}/.well-known/oauth-authorization-server (both answered 4xx)`,
    );
  });

  it('recognises an HTML page where the discovery document belongs', async () => {
    const html = await startFakeIdp(() => ({
      routes: { [OIDC_DISCOVERY]: serveRaw('<!doctype html><title>Sign in</title>', { 'content-type': 'text/html' }) },
    }));
    const { code, check } = await doctor(html.base, FAKE_AUDIENCE);
    expect(code).toBe(1);
    expect(check('discovery').summary).toMatch(/did not answer with JSON$/);
    expect(check('discovery').details[0]).toBe(
      'the answer is an HTML page (text/html), not JSON: a login page, a proxy or a wrong path',
    );
  });

  it('reports an IdP that never answers within --timeout', async () => {
    const silent = await startFakeIdp(() => ({ routes: { [OIDC_DISCOVERY]: hang } }));
    const { code, check } = await doctor(silent.base, FAKE_AUDIENCE, ['--timeout', '0.2']);
    expect(code).toBe(1);
    expect(check('discovery').summary).toMatch(/did not answer within 200 ms$/);
    expect(check('discovery').details[0]).toMatch(/^no answer within 0\.2 s/);
  });

  it('reports a JWKS that cannot be reached (connection refused) or is not a JWK Set', async () => {
    const gone = await startStubServer(() => undefined);
    await gone.close();
    const unreachable = await idpWith({ jwks_uri: `${gone.url}/keys` });
    const first = await doctor(unreachable.base, FAKE_AUDIENCE);
    expect(first.code).toBe(1);
    expect(first.check('jwks')).toMatchObject({
      status: 'fail',
      summary: `the JWKS could not be fetched: could not reach ${gone.url}/keys`,
    });
    expect(first.check('jwks').details[0]).toMatch(/^no connection/);

    const notASet = await idpWith({}, { '/keys': serveJson({ key: key.jwk }) });
    const second = await doctor(notASet.base, FAKE_AUDIENCE);
    expect(second.check('jwks').summary).toBe(`${notASet.base}/keys has no "keys" array: it is not a JWK Set`);
  });

  it('fails a JWKS with no usable signing key, and one that publishes private key material', async () => {
    const encryption = await idpWith({}, { '/keys': serveKeys(() => [{ ...key.jwk, use: 'enc' }]) });
    const enc = await doctor(encryption.base, FAKE_AUDIENCE);
    expect(enc.check('jwks')).toMatchObject({
      status: 'fail',
      summary: `${encryption.base}/keys: 1 key(s), none usable for signatures`,
    });
    expect(enc.check('jwks').details[0]).toMatch(/use "enc": not a signing key$/);

    const leaky = await idpWith({}, { '/keys': serveKeys(() => [{ ...key.privateJwk, kid: 'k1', alg: 'ES256' }]) });
    const leak = await doctor(leaky.base, FAKE_AUDIENCE);
    expect(leak.check('jwks')).toMatchObject({
      status: 'fail',
      summary: `${leaky.base}/keys publishes private key material`,
    });
  });

  it('warns about keys it will ignore (symmetric, another algorithm) while one key is usable', async () => {
    const rsa = await fakeIdpKey('RS256', 'rs');
    const mixed = await idpWith(
      {},
      {
        '/keys': serveKeys(() => [
          key.jwk,
          { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' },
          { ...key.jwk, kid: 'k2', alg: 'ES384' },
          { ...rsa.jwk, kid: 'rs', alg: 'RS1' },
        ]),
      },
    );
    const { code, check } = await doctor(mixed.base, FAKE_AUDIENCE);
    expect(code).toBe(0);
    expect(check('jwks').status).toBe('warn');
    expect(check('jwks').details).toEqual([
      'usable kid=k1 kty=EC/P-256 alg=ES256 use=sig',
      expect.stringMatching(/^ignored kid=hmac kty=oct .*: a symmetric \(oct\) key/),
      'ignored kid=k2 kty=EC/P-256 alg=ES384 use=sig: alg ES384 does not fit a EC P-256 key',
      'ignored kid=rs kty=RSA alg=RS1 use=sig: alg RS1 is not among the accepted algorithms (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519)',
    ]);
  });

  it('measures the clock from the Date header: 120 s ahead fails, 3 s ahead warns', async () => {
    /** `body` with a Date header `offsetMs` from our clock (both the discovery document and the JWKS). */
    const dated =
      (offsetMs: number, body: () => unknown): Route =>
      (_req, res: ServerResponse) => {
        res.writeHead(200, { 'content-type': 'application/json', date: new Date(Date.now() + offsetMs).toUTCString() });
        res.end(JSON.stringify(body()));
      };
    const skewed = await idpWith();
    const setOffset = (offsetMs: number) => {
      skewed.routes[OIDC_DISCOVERY] = dated(offsetMs, () => ({ issuer: skewed.base, jwks_uri: `${skewed.base}/keys` }));
      skewed.routes['/keys'] = dated(offsetMs, () => ({ keys: [key.jwk] }));
    };
    setOffset(120_000);
    const ahead = await doctor(skewed.base, FAKE_AUDIENCE);
    expect(ahead.code).toBe(1);
    expect(ahead.check('clock')).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(
        /^the IdP's clock is 1[12]\d\.\d s ahead of ours .*more than clockTolerance \(5 s\)$/,
      ),
    });
    expect(ahead.check('clock').details[0]).toMatch(/look issued in the future/);
    // A token it issues now, by its clock, is refused by ours, and the doctor says which claim.
    const token = await signAccessToken(key, { alg: 'ES256', kid: 'k1' }, skewed.base, () => Date.now() + 120_000);
    const withToken = await doctor(skewed.base, FAKE_AUDIENCE, ['--token', token]);
    expect(withToken.check('token.time').summary).toMatch(/^issued 1[12]\d s in the future/);
    expect(withToken.check('token.verdict').data).toMatchObject({ reason: 'issued_in_future' });

    // 3 s off (2 to 3.5 s once Date's whole seconds are counted): more than the measurement explains.
    setOffset(3_000);
    const slightly = await doctor(skewed.base, FAKE_AUDIENCE, ['--clock-tolerance', '10']);
    expect(slightly.check('clock').status).toBe('warn');
    expect(slightly.code).toBe(0);
  });

  it('judges revocation and introspection auth methods, and back-channel logout, from the metadata', async () => {
    const fake = await idpWith({
      revocation_endpoint: 'https://idp.example.com/revoke',
      revocation_endpoint_auth_methods_supported: ['private_key_jwt', 'tls_client_auth'],
      introspection_endpoint: 'http://idp.example.com/introspect',
      backchannel_logout_supported: false,
    });
    const { code, check } = await doctor(fake.base, FAKE_AUDIENCE);
    expect(check('revocation')).toMatchObject({
      status: 'warn',
      summary: 'https://idp.example.com/revoke; auth methods: private_key_jwt, tls_client_auth',
    });
    expect(check('introspection')).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(/^unusable introspection_endpoint: .*uses http on a non-loopback host/),
    });
    expect(check('backchannel-logout').status).toBe('info');
    expect(code).toBe(1);

    const bare = await idpWith();
    const second = await doctor(bare.base, FAKE_AUDIENCE);
    expect(second.check('revocation')).toMatchObject({
      status: 'warn',
      summary: 'no revocation_endpoint in the metadata',
    });
    expect(second.check('introspection').status).toBe('info');
    expect(second.code).toBe(0);
  });

  describe('tokens', () => {
    /** A token of `fake` (or of `claims.iss`) signed with its published key. */
    const sign =
      (claims: Record<string, unknown> = {}) =>
      (fake: { base: string }) =>
        signAccessToken(key, { alg: 'ES256', kid: 'k1' }, (claims.iss as string) ?? fake.base, now, claims);

    it.each([
      [
        'expired an hour ago',
        { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 },
        'token.time',
        /^expired 36\d\d s ago/,
        'token_expired',
      ],
      [
        'not valid for an hour',
        { nbf: Math.floor(Date.now() / 1000) + 3600 },
        'token.time',
        /^not valid before/,
        'token_not_yet_valid',
      ],
      [
        'living two days',
        { exp: Math.floor(Date.now() / 1000) + 2 * 86_400 },
        'token.time',
        /^lives 48\.0 h/,
        'lifetime_too_long',
      ],
      [
        'of another issuer',
        { iss: 'https://sts.windows.net/tenant-id/' },
        'token.issuer',
        /^iss is "https:\/\/sts\.windows\.net\/tenant-id\/"/,
        'issuer_mismatch',
      ],
    ] as const)('%s: the claim that fails, and the verifier`s reason', async (_name, claims, id, summary, reason) => {
      const fake = await idpWith();
      const token = await sign(claims)(fake);
      const { code, check } = await doctor(fake.base, FAKE_AUDIENCE, ['--token', token]);
      expect(code).toBe(1);
      expect(check(id)).toMatchObject({ status: 'fail', summary: expect.stringMatching(summary) });
      expect(check('token.verdict').data).toMatchObject({ reason });
    });

    it('names the Entra ID v1.0 issuer for what it is', async () => {
      const fake = await idpWith();
      const token = await sign({ iss: 'https://sts.windows.net/tenant-id/' })(fake);
      const { check } = await doctor(fake.base, FAKE_AUDIENCE, ['--token', token]);
      expect(check('token.issuer').details[1]).toMatch(
        /^an Entra ID v1\.0 access token: set requestedAccessTokenVersion to 2/,
      );
    });

    it('spots a kid the JWKS does not have, and a token without kid that no key verifies', async () => {
      const fake = await idpWith();
      const other = await fakeIdpKey('ES256', 'rotated-out');
      const unknownKid = await signAccessToken(other, { alg: 'ES256', kid: 'rotated-out' }, fake.base, now);
      const first = await doctor(fake.base, FAKE_AUDIENCE, ['--token', unknownKid]);
      expect(first.check('token.key')).toMatchObject({
        status: 'fail',
        summary: 'kid rotated-out is not in the JWKS (kids: k1)',
      });
      expect(first.check('token.verdict').data).toMatchObject({ reason: 'key_not_found' });

      const rsa = await fakeIdpKey('RS256', 'unused');
      const noKid = await signAccessToken(rsa, { alg: 'RS256' }, fake.base, now);
      const second = await doctor(fake.base, FAKE_AUDIENCE, ['--token', noKid]);
      expect(second.check('token.key')).toMatchObject({
        status: 'fail',
        summary: 'no kid, and no published key verifies RS256',
      });
      expect(second.check('token.verdict').status).toBe('fail');
    });

    it('refuses HMAC and unsigned tokens in the header check', async () => {
      const fake = await idpWith();
      const hmac = await signAccessToken(
        { privateKey: new TextEncoder().encode('a shared secret of 32 bytes or more') },
        { alg: 'HS256' },
        fake.base,
        now,
      );
      const signedWithSecret = await doctor(fake.base, FAKE_AUDIENCE, ['--token', hmac]);
      expect(signedWithSecret.check('token.header').summary).toMatch(/signed with a shared secret \(HMAC\)$/);
      expect(signedWithSecret.check('token.verdict').data).toMatchObject({ reason: 'algorithm_not_allowed' });

      const unsigned = rawToken({ alg: 'none' }, { iss: fake.base, aud: FAKE_AUDIENCE });
      const none = await doctor(fake.base, FAKE_AUDIENCE, ['--token', unsigned]);
      expect(none.check('token.header').summary).toBe('alg none, kid (none), typ (none): unsigned');
      expect(none.code).toBe(1);
    });

    it('recognises a Cognito access token (client_id, no aud) and points at the recipe', async () => {
      const fake = await idpWith();
      const payload = {
        sub: 'alice',
        client_id: 'app-client',
        token_use: 'access',
        iss: fake.base,
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 600,
      };
      const cognito = await signJwt(key, {}, payload);
      const { check } = await doctor(fake.base, 'app-client', ['--token', cognito]);
      expect(check('token.audience')).toMatchObject({
        status: 'fail',
        summary: 'no aud claim: the verifier requires one',
      });
      expect(check('token.audience').details[0]).toMatch(/^an Amazon Cognito access token/);
      expect(check('token.audience').details[0]).toContain("set `audienceClaim: 'client_id'`");
      expect(check('token.audience').details[0]).toContain('--audience-claim client_id');
      expect(check('token.verdict').data).toMatchObject({ reason: 'claim_missing' });

      // Following the advice: the same token is accepted, judged by its client_id.
      const advised = await doctor(fake.base, 'app-client', ['--token', cognito, '--audience-claim', 'client_id']);
      expect(advised.check('token.audience')).toMatchObject({
        status: 'ok',
        summary: 'client_id "app-client" is "app-client"',
      });
      expect(advised.check('token.verdict').status).toBe('ok');
      expect(advised.code).toBe(0);
      // Another app client's token is refused, and the doctor says which claim decided.
      const other = await doctor(fake.base, 'another-app', ['--token', cognito, '--audience-claim', 'client_id']);
      expect(other.check('token.audience')).toMatchObject({
        status: 'fail',
        summary: 'client_id "app-client" is not "another-app"',
      });
      expect(other.check('token.verdict').data).toMatchObject({ reason: 'audience_mismatch' });
    });

    it('calls a Cognito ID token what it is, in either audience mode', async () => {
      const fake = await idpWith();
      const iat = Math.floor(Date.now() / 1000);
      const idToken = await signJwt(
        key,
        {},
        { sub: 'alice', aud: 'app-client', token_use: 'id', iss: fake.base, iat, exp: iat + 600 },
      );
      for (const extra of [[], ['--audience-claim', 'client_id']]) {
        const { check, code } = await doctor(fake.base, 'app-client', ['--token', idToken, ...extra]);
        expect(check('token.audience')).toMatchObject({
          status: 'fail',
          summary: 'token_use is "id": not an access token',
        });
        expect(check('token.audience').details[0]).toMatch(
          /^an Amazon Cognito ID token: send the access token instead/,
        );
        expect(check('token.verdict').data).toMatchObject({ reason: 'type_mismatch' });
        expect(code).toBe(1);
      }
    });

    it('with --audience-claim client_id, says when a token has aud and no client_id', async () => {
      const fake = await idpWith();
      const rfc9068 = await signAccessToken(key, { alg: 'ES256', kid: 'k1' }, fake.base, now);
      const { check } = await doctor(fake.base, FAKE_AUDIENCE, ['--token', rfc9068, '--audience-claim', 'client_id']);
      expect(check('token.audience')).toMatchObject({
        status: 'fail',
        summary: 'no client_id claim: with audienceClaim client_id the verifier requires one',
        details: ["the token has aud: keep the default audienceClaim ('aud') for this IdP"],
      });
      expect(check('token.verdict').data).toMatchObject({ reason: 'claim_missing' });
    });

    it('reports a DPoP-bound token as accepted by the verifier, and what a guard needs for it', async () => {
      const fake = await idpWith();
      const bound = await sign({ cnf: { jkt: 'thumbprint' } })(fake);
      const { code, check } = await doctor(fake.base, FAKE_AUDIENCE, ['--token', bound]);
      expect(check('token.binding').summary).toBe('DPoP-bound (cnf.jkt): a guard refuses it as a Bearer token');
      expect(check('token.verdict').status).toBe('ok');
      expect(code).toBe(0);
    });

    it('takes the token from standard input, drops a pasted scheme, and never prints the token', async () => {
      const fake = await idpWith();
      const token = await sign()(fake);
      const run = await cli(
        ['doctor', '--issuer', fake.base, '--audience', FAKE_AUDIENCE, '--token', '-'],
        `Bearer ${token}\n`,
      );
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/the scheme \(Bearer\/DPoP\) was taken off/);
      expect(run.stdout).toMatch(/✔ token\.verdict +accepted by the verifier: sub "alice"/);
      for (const segment of token.split('.')) expect(run.stdout).not.toContain(segment);
      const json = await cli([
        'doctor',
        '--issuer',
        fake.base,
        '--audience',
        FAKE_AUDIENCE,
        '--token',
        token,
        '--json',
      ]);
      for (const segment of token.split('.')) expect(json.stdout).not.toContain(segment);
    });

    it('tells opaque and encrypted tokens apart from JWTs', async () => {
      const fake = await idpWith();
      const opaque = await doctor(fake.base, FAKE_AUDIENCE, ['--token', 'SlAV32hkKG']);
      expect(opaque.check('token.format').summary).toBe('an opaque token (not a JWT): it cannot be verified locally');
      expect(opaque.check('token.verdict').status).toBe('fail');
      const jwe = await doctor(fake.base, FAKE_AUDIENCE, ['--token', 'eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d']);
      expect(jwe.check('token.format').summary).toMatch(/^an encrypted token \(JWE/);
      expect(jwe.check('token.verdict').data).toMatchObject({ reason: 'encrypted_token' });
    });
  });
});

describe('the command line', () => {
  it.each([
    [[], 0, /^Usage: revocable-jwt doctor/],
    [['--help'], 0, /^Usage/],
    [['doctor'], 2, /--issuer is required/],
    [['doctor', '--issuer', 'https://idp.example.com/'], 2, /--audience is required/],
    [['doctor', '--issuer', 'x', '--audience', 'a', '--bogus'], 2, /Unknown option '--bogus'/],
    [['doctor', '--issuer', 'x', '--audience', 'a', '--timeout', 'soon'], 2, /--timeout must be a number of seconds/],
    [
      ['doctor', '--issuer', 'x', '--audience', 'a', '--audience-claim', 'azp'],
      2,
      /--audience-claim takes aud or client_id/,
    ],
    [['check', '--issuer', 'x'], 2, /unknown command "check"/],
  ])('%j exits %i', async (args, code, message) => {
    const run = await cli(args as string[]);
    expect(run.code).toBe(code);
    expect(code === 0 ? run.stdout : run.stderr.replace(/^revocable-jwt: /, '')).toMatch(message);
  });

  it('fails the configuration check, with the library`s message, for options createVerifier refuses', async () => {
    const run = await cli(['doctor', '--issuer', 'http://idp.example.com/', '--audience', 'api']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✘ configuration +`issuer` uses http on a non-loopback host \(idp\.example\.com\)/);
    expect(run.stdout).toMatch(/1 check\(s\) failed\n$/);
  });

  it('colours the human output only when asked to', async () => {
    let stdout = '';
    const io = {
      stdout: (t: string) => void (stdout += t),
      stderr: () => undefined,
      readStdin: async () => '',
      color: true,
    };
    await runCli(['doctor', '--issuer', 'http://idp.example.com/', '--audience', 'api'], io);
    expect(stdout).toContain('\u001b[31m✘ configuration\u001b[0m');
    stdout = '';
    await runCli(['doctor', '--issuer', 'http://idp.example.com/', '--audience', 'api', '--no-color'], io);
    expect(stdout).not.toContain('\u001b[');
  });
});
