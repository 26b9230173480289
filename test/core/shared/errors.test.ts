/**
 * One error model: every error the library makes extends RevocableJwtError and names its cause in
 * `reason`; `cause` is kept; each class has its status, code and headers, and a default message.
 * Then the places that decide a reason (the RFC 7009 client, the verifier's revocation endpoint),
 * and `verify()` after `close()`: a coded 500, never a plain Error the guard would call a bad token.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import {
  AuthError,
  authErrorHandler,
  authGuard,
  buildRevocationRequest,
  createVerifier,
  HttpRequestError,
  IdpUnavailableError,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  MisconfiguredError,
  processRevocationResponse,
  RevocableJwtError,
  RevocationError,
  RevocationPendingError,
  SecurityEventError,
  StoreUnavailableError,
  UnauthorizedError,
  VerifierClosedError,
  type ErrorReason,
  type Verifier,
} from '../../../src/index.js';
import { revokeAtIdp } from '../../../src/core/idp/revocation-client.js';
import { toAuthError } from '../../../src/core/shared/rejections.js';
import { isTemporarilyUnavailable } from '../../../src/core/shared/errors.js';
import { sendJson, startStubServer, type StubServer } from '../../support/http.js';
import { rawToken, startIdp, type EmbeddedIdp } from '../../support/idp.js';

const cause = new Error('the original failure');

interface Row {
  error: RevocableJwtError;
  name: string;
  reason: ErrorReason;
  message: string;
  cause?: unknown;
  /** `status`, `code` and `headers` as the class answers them (absent where the class has none). */
  status?: number | undefined;
  code?: string | undefined;
  headers?: Record<string, string>;
}

const CLASSES: Row[] = [
  {
    error: new UnauthorizedError(),
    name: 'UnauthorizedError',
    reason: 'missing_token',
    message: 'Bearer token required',
    status: 401,
    code: undefined,
    headers: { 'WWW-Authenticate': 'Bearer realm="api"' },
  },
  {
    error: new InvalidRequestError('multiple_tokens', undefined, { cause }),
    name: 'InvalidRequestError',
    reason: 'multiple_tokens',
    message: 'The request is malformed',
    cause,
    status: 400,
    code: 'invalid_request',
    headers: {
      'WWW-Authenticate': 'Bearer realm="api", error="invalid_request", error_description="The request is malformed"',
    },
  },
  {
    error: new InvalidTokenError('token_expired', undefined, { cause }),
    name: 'InvalidTokenError',
    reason: 'token_expired',
    message: 'The access token expired',
    cause,
    status: 401,
    code: 'invalid_token',
    headers: {
      'WWW-Authenticate': 'Bearer realm="api", error="invalid_token", error_description="The access token expired"',
    },
  },
  {
    // A reason without a fixed description of its own gets the generic one.
    error: new InvalidTokenError('malformed_request'),
    name: 'InvalidTokenError',
    reason: 'malformed_request',
    message: 'The access token is invalid',
    status: 401,
    code: 'invalid_token',
    headers: {
      'WWW-Authenticate': 'Bearer realm="api", error="invalid_token", error_description="The access token is invalid"',
    },
  },
  {
    error: new InsufficientScopeError(['notes:read', 'notes:write']),
    name: 'InsufficientScopeError',
    reason: 'insufficient_scope',
    message: 'The access token lacks a required scope',
    status: 403,
    code: 'insufficient_scope',
    headers: {
      'WWW-Authenticate':
        'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope", ' +
        'scope="notes:read notes:write"',
    },
  },
  {
    error: new IdpUnavailableError('The signing keys cannot be fetched', 2.2, { cause }),
    name: 'IdpUnavailableError',
    reason: 'idp_unavailable',
    message: 'The signing keys cannot be fetched',
    cause,
    status: 503,
    code: 'temporarily_unavailable',
    headers: { 'Retry-After': '3' },
  },
  {
    error: new StoreUnavailableError(4, { cause }),
    name: 'StoreUnavailableError',
    reason: 'store_unavailable',
    message: 'Token revocation status cannot be checked right now',
    cause,
    status: 503,
    code: 'temporarily_unavailable',
    headers: { 'Retry-After': '4' },
  },
  {
    error: new RevocationPendingError(0.5, { cause }),
    name: 'RevocationPendingError',
    reason: 'store_unavailable',
    message: 'Revoked on this instance; the shared revocation store has not confirmed it yet (retrying)',
    cause,
    status: 503,
    code: 'temporarily_unavailable',
    headers: { 'Retry-After': '1' },
  },
  {
    error: new MisconfiguredError('the issuer metadata has no jwks_uri', { cause }),
    name: 'MisconfiguredError',
    reason: 'misconfigured',
    message: 'revocable-jwt: the issuer metadata has no jwks_uri',
    cause,
    status: 500,
    code: 'server_error',
    headers: {},
  },
  {
    error: new VerifierClosedError(),
    name: 'VerifierClosedError',
    reason: 'verifier_closed',
    message: 'revocable-jwt: verify() called after close()',
    status: 500,
    code: 'server_error',
    headers: {},
  },
  {
    error: new HttpRequestError('timeout', undefined, { cause }),
    name: 'HttpRequestError',
    reason: 'http_timeout',
    message: 'the IdP did not answer in time',
    cause,
    status: undefined, // the IdP never answered
  },
  {
    error: new HttpRequestError('status', 'https://idp.example/jwks answered 404', { status: 404 }),
    name: 'HttpRequestError',
    reason: 'http_status',
    message: 'https://idp.example/jwks answered 404',
    status: 404, // the IdP's answer, not one to send a client
  },
  {
    error: new RevocationError('the revocation endpoint is unavailable (HTTP 503)', {
      transient: true,
      status: 503,
      cause,
    }),
    name: 'RevocationError',
    reason: 'revocation_unavailable',
    message: 'the revocation endpoint is unavailable (HTTP 503)',
    cause,
    status: 503,
  },
  {
    error: new RevocationError('the IdP refused the revocation request (invalid_request)', {
      transient: false,
      status: 400,
    }),
    name: 'RevocationError',
    reason: 'revocation_refused',
    message: 'the IdP refused the revocation request (invalid_request)',
    status: 400,
  },
  {
    error: new SecurityEventError('invalid_key', undefined, { cause }),
    name: 'SecurityEventError',
    reason: 'set_invalid_key',
    message: 'The SET signature cannot be verified',
    cause,
    status: 400,
    code: 'invalid_key',
  },
];

describe('every error class', () => {
  it.each(CLASSES.map((row) => [`${row.name} (${row.reason})`, row] as const))('%s', (_label, row) => {
    const { error } = row;
    expect(error).toBeInstanceOf(RevocableJwtError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(row.name);
    expect(String(error)).toBe(`${row.name}: ${row.message}`);
    expect(error.reason).toBe(row.reason);
    expect(error.message).toBe(row.message);
    expect(error.cause).toBe(row.cause);
    if ('status' in row) expect((error as { status?: number }).status).toBe(row.status);
    if ('code' in row) expect((error as { code?: string }).code).toBe(row.code);
    if (error instanceof AuthError) {
      expect(error.headers).toEqual(row.headers);
      expect(error.statusCode).toBe(row.status);
      expect(error.toJSON().error).toBe(row.code ?? 'unauthorized');
    } else {
      expect(row.headers).toBeUndefined();
    }
  });

  it('keeps the class tree: instanceof holds for every ancestor', () => {
    expect(new RevocationPendingError(1)).toBeInstanceOf(StoreUnavailableError);
    expect(new VerifierClosedError()).toBeInstanceOf(MisconfiguredError);
    expect(new VerifierClosedError()).toBeInstanceOf(AuthError);
    for (const error of [
      new HttpRequestError('network'),
      new RevocationError('x', { transient: true }),
      new SecurityEventError('invalid_request'),
    ]) {
      expect(error).not.toBeInstanceOf(AuthError);
    }
    expect(isTemporarilyUnavailable(new RevocationPendingError(1))).toBe(true);
    expect(isTemporarilyUnavailable(new IdpUnavailableError('down', 1))).toBe(true);
    expect(isTemporarilyUnavailable(new VerifierClosedError())).toBe(false);
    expect(isTemporarilyUnavailable(new RevocationError('x', { transient: true }))).toBe(false);
  });

  it('HttpRequestError: reason is http_ + kind, with a default message for each kind', () => {
    const kinds = ['network', 'timeout', 'status', 'redirect', 'too_large', 'invalid_body', 'aborted'] as const;
    for (const kind of kinds) {
      const error = new HttpRequestError(kind);
      expect(error.reason).toBe(`http_${kind}`);
      expect(error.message).not.toBe('');
    }
  });

  it('SecurityEventError: code is err (RFC 8935), reason is set_ + err, each with a default description', () => {
    const codes = [
      'invalid_request',
      'invalid_key',
      'invalid_issuer',
      'invalid_audience',
      'authentication_failed',
      'access_denied',
    ] as const;
    for (const code of codes) {
      const error = new SecurityEventError(code);
      expect([error.err, error.code, error.reason]).toEqual([code, code, `set_${code}`]);
      expect(error.description).toBe(error.message);
      expect(error.description).not.toBe('');
    }
    expect(new SecurityEventError('invalid_request', 'The SET has no events').description).toBe(
      'The SET has no events',
    );
  });

  it('an AuthError keeps its reason, code and cause under another realm', () => {
    const error = new InvalidTokenError('revoked', undefined, { cause });
    const copy = error.withRealm('notes');
    expect(copy).toBeInstanceOf(InvalidTokenError);
    expect([copy.reason, copy.code, copy.cause, copy.name]).toEqual([
      'revoked',
      'invalid_token',
      cause,
      'InvalidTokenError',
    ]);
    expect(copy.headers['WWW-Authenticate']).toMatch(/^Bearer realm="notes", /);
  });
});

describe('RevocationError reasons, where they are decided', () => {
  const answer = (status: number, body: object = {}) => ({
    status,
    headers: new Headers({ 'content-type': 'application/json' }),
    text: JSON.stringify(body),
  });
  const refusal = (result: ReturnType<typeof answer>): RevocationError => {
    try {
      processRevocationResponse(result);
    } catch (error) {
      expect(error).toBeInstanceOf(RevocationError);
      return error as RevocationError;
    }
    throw new Error('expected a RevocationError');
  };
  const client = { clientSecret: 'secret', bodyFormat: 'form', timeoutMs: 1_000 } as const;

  it.each([
    [503, {}, 'revocation_unavailable', true],
    [429, {}, 'revocation_unavailable', true],
    [401, { error: 'invalid_client' }, 'revocation_client_rejected', false],
    [400, { error: 'invalid_client' }, 'revocation_client_rejected', false],
    [400, { error: 'invalid_request' }, 'revocation_refused', false],
    [403, {}, 'revocation_refused', false],
  ] as const)('IdP answers %i %j → %s', (status, body, reason, transient) => {
    const error = refusal(answer(status, body));
    expect([error.reason, error.transient, error.status]).toEqual([reason, transient, status]);
  });

  it('no client id to send → revocation_misconfigured', () => {
    expect(() =>
      buildRevocationRequest({ ...client, clientId: undefined, authMethod: 'none' }, { token: 't' }),
    ).toThrow(expect.objectContaining({ reason: 'revocation_misconfigured', transient: false }));
  });

  describe('against a local server', () => {
    const stubs: StubServer[] = [];
    afterEach(async () => {
      await Promise.all(stubs.splice(0).map((s) => s.close()));
    });
    const serve = async (handler: Parameters<typeof startStubServer>[0]) => {
      const stub = await startStubServer(handler);
      stubs.push(stub);
      return stub;
    };
    const revoke = (url: string) =>
      revokeAtIdp(
        new URL(url),
        { ...client, clientId: 'api', authMethod: 'client_secret_basic' },
        { token: 't' },
        { fetch: globalThis.fetch },
      );

    it('an endpoint that redirects → revocation_misconfigured, not retried, the HttpRequestError as cause', async () => {
      const stub = await serve((_req, res) => {
        res.writeHead(302, { location: 'https://elsewhere.example/revoke' }).end();
      });
      const error = (await revoke(`${stub.url}/revoke`).catch((e: unknown) => e)) as RevocationError;
      expect(error).toBeInstanceOf(RevocationError);
      expect([error.reason, error.transient]).toEqual(['revocation_misconfigured', false]);
      expect(error.cause).toBeInstanceOf(HttpRequestError);
      expect((error.cause as HttpRequestError).reason).toBe('http_redirect');
    });

    it('an unreachable endpoint → revocation_unavailable, retried, the HttpRequestError as cause', async () => {
      const stub = await serve((_req, res) => void res.end());
      const url = `${stub.url}/revoke`;
      await stub.close(); // nothing listens there any more
      const error = (await revoke(url).catch((e: unknown) => e)) as RevocationError;
      expect([error.reason, error.transient]).toEqual(['revocation_unavailable', true]);
      expect((error.cause as HttpRequestError).reason).toBe('http_network');
    });

    it('discovery without a revocation_endpoint → revocation_misconfigured in revoke()', async () => {
      const stub = await serve((_req, res) => sendJson(res, 200, { issuer: stub.url, jwks_uri: `${stub.url}/jwks` }));
      const verifier = createVerifier({
        issuer: stub.url,
        audience: 'api',
        revocation: { clientId: 'api', clientSecret: 'secret' },
      });
      try {
        const outcome = await verifier.revoke('an-opaque-refresh-token');
        expect(outcome.idp).toBe('rejected');
        expect(outcome.error).toBeInstanceOf(RevocationError);
        expect(outcome.error!.reason).toBe('revocation_misconfigured');
        expect(outcome.error!.cause).toBeInstanceOf(MisconfiguredError);
      } finally {
        await verifier.close();
      }
    });
  });
});

describe('verify() after close()', () => {
  let idp: EmbeddedIdp;
  beforeAll(async () => {
    idp = await startIdp();
  });
  afterAll(async () => {
    await idp.close();
  });

  const single = () => createVerifier({ issuer: idp.issuer, audience: idp.audience });
  const multi = () =>
    createVerifier({
      issuers: [
        { issuer: idp.issuer, audience: idp.audience },
        { issuer: 'https://other.example', audience: 'other-api' },
      ],
    });

  async function closedRejection(verifier: Verifier, token: string): Promise<unknown> {
    return verifier.verify(token).then(
      () => 'accepted',
      (error: unknown) => error,
    );
  }

  it.each([
    ['one issuer', single],
    ['several issuers', multi],
  ] as const)('%s: a token it accepted before close() is refused with VerifierClosedError', async (_label, make) => {
    const verifier = make();
    const token = await idp.issueAccessToken();
    await verifier.verify(token);
    await verifier.close();
    const error = await closedRejection(verifier, token);
    expect(error).toBeInstanceOf(VerifierClosedError);
    expect(error).toMatchObject({ reason: 'verifier_closed', status: 500, code: 'server_error', headers: {} });
    expect((error as Error).message).toBe('revocable-jwt: verify() called after close()');
  });

  it.each([
    ['one issuer', single],
    ['several issuers', multi],
  ] as const)('%s: any token, routable or not, is refused alike (never a 401)', async (_label, make) => {
    const verifier = make();
    await verifier.close();
    const tokens = [
      rawToken({ alg: 'RS256' }, { iss: idp.issuer }, 'sig'),
      rawToken({ alg: 'RS256' }, { iss: 'https://unknown.example' }, 'sig'),
      'an-opaque-token',
    ];
    for (const token of tokens) {
      const error = await closedRejection(verifier, token);
      expect(error).toBeInstanceOf(VerifierClosedError);
      expect(toAuthError(error)).toBe(error); // the guard passes it on as it is
    }
  });

  it('behind authGuard: a 500 with the generic body, no challenge, not a 401', async () => {
    const verifier = single();
    const app = express();
    app.set('env', 'production');
    app.get('/notes', authGuard({ verifier }), (_req, res) => {
      res.json({ ok: true });
    });
    app.use(authErrorHandler());
    const token = await idp.issueAccessToken();
    await verifier.close();
    const res = await request(app).get('/notes').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(500);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.body).toEqual({ error: 'server_error', error_description: 'The request could not be processed' });
  });
});
