/** The RFC 8935 push step without a framework: what the transmitter hears, error by error. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { createSecurityEventHandler } from '../../../src/core/request/security-event-request.js';
import {
  createVerifier,
  IdpUnavailableError,
  MisconfiguredError,
  SecurityEventError,
  SESSION_REVOKED,
  StoreUnavailableError,
  type RequestLike,
  type Verifier,
} from '../../../src/index.js';
import { startIdp, type EmbeddedIdp } from '../../support/idp.js';

const AUDIENCE = 'https://api.example.com';
const NO_STORE = { 'Cache-Control': 'no-store' };
const SET_TYPE: RequestLike = { method: 'POST', headers: { 'content-type': 'application/secevent+jwt' } };

let idp: EmbeddedIdp;
let verifier: Verifier;

beforeAll(async () => {
  idp = await startIdp();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience });
});
afterAll(async () => {
  await verifier.close();
  await idp.close();
});

function securityEvent(): Promise<string> {
  const key = idp.keys[0]!;
  return new SignJWT({
    iss: idp.issuer,
    aud: AUDIENCE,
    iat: Math.floor(Date.now() / 1000),
    jti: `jti-${randomUUID()}`,
    events: { [SESSION_REVOKED]: { subject: { format: 'opaque', id: 'session-1' } } },
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'secevent+jwt' })
    .sign(key.privateKey);
}

describe('createSecurityEventHandler', () => {
  it('a valid SET: 202, no body, never cached', async () => {
    const receive = createSecurityEventHandler({ verifier, audience: AUDIENCE });
    const set = await securityEvent();
    expect(await receive(SET_TYPE, async () => `${set}\n`)).toEqual({ status: 202, headers: NO_STORE });
  });

  it('the wrong media type: 400, and the body is never read', async () => {
    const receive = createSecurityEventHandler({ verifier, audience: AUDIENCE });
    let read = false;
    const answer = await receive({ headers: new Headers({ 'Content-Type': 'application/jwt' }) }, async () => {
      read = true;
      return '';
    });
    expect(answer).toEqual({
      status: 400,
      headers: NO_STORE,
      body: { err: 'invalid_request', description: 'Send the SET as application/secevent+jwt' },
    });
    expect(read).toBe(false);
  });

  it.each<[string, () => Promise<string>, string]>([
    ['a body that cannot be read', () => Promise.reject(new Error('aborted')), 'The request body could not be read'],
    ['an empty body', async () => '  \n', 'The body holds no SET'],
  ])('%s: 400 invalid_request', async (_name, readBody, description) => {
    const receive = createSecurityEventHandler({ verifier, audience: AUDIENCE });
    expect(await receive(SET_TYPE, readBody)).toEqual({
      status: 400,
      headers: NO_STORE,
      body: { err: 'invalid_request', description },
    });
  });

  it.each<[string, unknown, object | undefined]>([
    [
      'an RFC 8935 error',
      new SecurityEventError('invalid_issuer', 'Unknown issuer'),
      { status: 400, headers: NO_STORE, body: { err: 'invalid_issuer', description: 'Unknown issuer' } },
    ],
    [
      'keys unreachable',
      new IdpUnavailableError('The identity provider is unreachable', 4),
      {
        status: 503,
        headers: { 'Retry-After': '4', ...NO_STORE },
        body: { err: 'temporarily_unavailable', description: 'The identity provider is unreachable' },
      },
    ],
    [
      'the store unreachable',
      new StoreUnavailableError(3),
      { status: 503, headers: { 'Retry-After': '3', ...NO_STORE }, body: { err: 'temporarily_unavailable' } },
    ],
    ['a misconfiguration: passed on', new MisconfiguredError('issuer mismatch'), undefined],
    ['a bug: passed on', new TypeError('x is undefined'), undefined],
  ])('answerError: %s', (_name, error, expected) => {
    const receive = createSecurityEventHandler({ verifier, audience: AUDIENCE });
    if (expected === undefined) expect(receive.answerError(error)).toBeUndefined();
    else expect(receive.answerError(error)).toMatchObject(expected);
    expect(receive.errorBody('server_error', 'x')).toEqual({ err: 'server_error', description: 'x' });
  });

  it.each<[string, (v: Verifier) => unknown, string | RegExp]>([
    [
      'no verifier',
      () => ({ audience: AUDIENCE }),
      'revocable-jwt: createSecurityEventHandler needs { verifier, audience }',
    ],
    ['no audience', (v) => ({ verifier: v }), /needs `audience`: how the transmitter addresses this receiver/],
    ['an empty audience list', (v) => ({ verifier: v, audience: [] }), /needs `audience`/],
    ['a misspelt key', (v) => ({ verifier: v, audience: AUDIENCE, maxage: 60 }), /did you mean `maxAge`\?/],
  ])('construction: %s is a TypeError', (_name, options, message) => {
    expect(() => createSecurityEventHandler(options(verifier) as never)).toThrow(message);
  });
});
