/**
 * Certificate-bound tokens (RFC 8705 §3) in the request step, without a framework: which token is
 * admitted with which certificate, where the certificate is read from (the connection, or a
 * trusted proxy's header, never both), what each refusal says, and the `mtls` option's checks.
 * The adapters' real-TLS tests are in test/adapters/mtls.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type Authentication,
  authGuard,
  createAuthenticator,
  createVerifier,
  type RejectionReason,
  type RequestLike,
  type Verifier,
  type VerifierEventMap,
} from '../../../src/index.js';
import { createTestCa, type TestCertificate } from '../../support/certificates.js';
import { dpopClient } from '../../support/dpop.js';
import { type EmbeddedIdp, startIdp, testClock, tokenAt } from '../../support/idp.js';

const clock = testClock();
let idp: EmbeddedIdp;
let verifier: Verifier;
let alice: TestCertificate;
let bob: TestCertificate;
let aliceToken: string;
let unboundToken: string;
const rejected: Array<VerifierEventMap['rejected']> = [];

beforeAll(async () => {
  const ca = await createTestCa();
  [idp, alice, bob] = await Promise.all([startIdp(), ca.issueClient('alice'), ca.issueClient('bob')]);
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock });
  verifier.on('rejected', (event) => rejected.push(event));
  aliceToken = await tokenAt(idp, clock(), { cnf: { 'x5t#S256': alice.thumbprint } });
  unboundToken = await tokenAt(idp, clock());
});
afterAll(async () => {
  await verifier.close();
  await idp.close();
});

const request = (token: string, extra: Partial<RequestLike> = {}): RequestLike => ({
  method: 'GET',
  url: '/payments',
  headers: { authorization: `Bearer ${token}`, ...(extra.headers as Record<string, string>) },
  ...(extra.clientCertificate === undefined ? {} : { clientCertificate: extra.clientCertificate }),
});

async function answer(result: Authentication | Promise<Authentication>): Promise<Authentication> {
  return result;
}

async function refusal(result: Authentication | Promise<Authentication>, reason: RejectionReason) {
  const settled = await result;
  if (settled.ok) throw new Error(`expected a refusal (${reason}), got the token admitted`);
  expect(settled.error.reason).toBe(reason);
  return settled;
}

describe('mtls: true (the certificate of the TLS connection)', () => {
  const authenticate = () => createAuthenticator({ verifier, mtls: true });

  it('admits a bound token from the client holding its certificate, in every form, on hits too', async () => {
    const guard = authenticate();
    for (const clientCertificate of [alice.der, alice.pem, { raw: alice.der }]) {
      expect(await answer(guard(request(aliceToken, { clientCertificate })))).toMatchObject({ ok: true });
    }
    const hit = guard(request(aliceToken, { clientCertificate: alice.der }));
    expect(hit).not.toBeInstanceOf(Promise); // the check keeps the hit synchronous
    expect(hit).toMatchObject({ ok: true, auth: { token: aliceToken } });
  });

  it('refuses it with another client certificate: 401 invalid_token, a clear description', async () => {
    const refused = await refusal(
      authenticate()(request(aliceToken, { clientCertificate: bob.der })),
      'certificate_mismatch',
    );
    expect(refused.status).toBe(401);
    expect(refused.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="invalid_token", ' +
        'error_description="The access token is bound to another client certificate"',
    );
    expect(refused.body).toEqual({
      error: 'invalid_token',
      error_description: 'The access token is bound to another client certificate',
    });
  });

  it('refuses it without a certificate, and reports every refusal to the verifier', async () => {
    rejected.length = 0;
    const refused = await refusal(authenticate()(request(aliceToken)), 'certificate_required');
    expect(refused.body).toMatchObject({
      error_description: 'The access token is bound to a client certificate, and none was presented',
    });
    expect(rejected).toEqual([expect.objectContaining({ reason: 'certificate_required', status: 401 })]);
  });

  it('refuses a token without cnf (every token must be bound), whatever certificate comes with it', async () => {
    for (const clientCertificate of [undefined, alice.der]) {
      const refused = await refusal(authenticate()(request(unboundToken, { clientCertificate })), 'token_not_bound');
      expect(refused.body).toMatchObject({
        error_description: 'The access token is not bound to a client certificate',
      });
    }
  });

  it('never reads a certificate header: a client sending one gets nothing for it', async () => {
    const headers = {
      'x-client-cert': alice.escapedPem,
      'client-cert': `:${Buffer.from(alice.der).toString('base64')}:`,
    };
    await refusal(authenticate()(request(aliceToken, { headers })), 'certificate_required');
    await refusal(authenticate()(request(aliceToken, { headers, clientCertificate: bob.der })), 'certificate_mismatch');
  });

  it('refuses a certificate that is none (a clientCertificate the application got wrong)', async () => {
    const pemBytes = new TextEncoder().encode(alice.pem);
    await refusal(authenticate()(request(aliceToken, { clientCertificate: pemBytes })), 'certificate_unreadable');
    await refusal(
      authenticate()(request(aliceToken, { clientCertificate: 'not a certificate' })),
      'certificate_unreadable',
    );
  });

  it.each([
    ['cnf is a string', 'x5t'],
    ['cnf is an array', ['x5t']],
    ['cnf is null', null],
    ['x5t#S256 is a number', { 'x5t#S256': 42 }],
    ['x5t#S256 is an array', { 'x5t#S256': ['x5t'] }],
  ])('refuses a token whose %s (claim_invalid)', async (_name, cnf) => {
    const token = await tokenAt(idp, clock(), { cnf } as never);
    const refused = await refusal(authenticate()(request(token, { clientCertificate: alice.der })), 'claim_invalid');
    expect(refused.body).toMatchObject({
      error_description: 'The access token has an invalid confirmation (cnf) claim',
    });
  });

  it('compares the whole thumbprint: a prefix, another case, or padding is another certificate', async () => {
    for (const bound of [alice.thumbprint.slice(0, -1), alice.thumbprint.toLowerCase(), `${alice.thumbprint}=`, '']) {
      const token = await tokenAt(idp, clock(), { cnf: { 'x5t#S256': bound } });
      await refusal(authenticate()(request(token, { clientCertificate: alice.der })), 'certificate_mismatch');
    }
  });

  it('refuses a token also bound by DPoP (both confirmation members) sent as Bearer, whatever the certificate', async () => {
    const token = await tokenAt(idp, clock(), { cnf: { 'x5t#S256': alice.thumbprint, jkt: 'some-jwk-thumbprint' } });
    // The sender binding checks run DPoP first: without its proof the key binding cannot hold.
    await refusal(authenticate()(request(token, { clientCertificate: bob.der })), 'dpop_bound_token');
    await refusal(authenticate()(request(token, { clientCertificate: alice.der })), 'dpop_bound_token');
  });

  it('keeps refusing a revoked bound token on what was a cache hit', async () => {
    const token = await tokenAt(idp, clock(), { cnf: { 'x5t#S256': alice.thumbprint } });
    const guard = authenticate();
    expect(await answer(guard(request(token, { clientCertificate: alice.der })))).toMatchObject({ ok: true });
    await verifier.invalidate(token);
    await refusal(guard(request(token, { clientCertificate: alice.der })), 'revoked');
  });
});

describe('mtls: { required: false } (bound tokens checked, unbound ones admitted)', () => {
  const authenticate = () => createAuthenticator({ verifier, mtls: { required: false } });

  it('admits an unbound token with or without a certificate', async () => {
    expect(await answer(authenticate()(request(unboundToken)))).toMatchObject({ ok: true });
    expect(await answer(authenticate()(request(unboundToken, { clientCertificate: bob.der })))).toMatchObject({
      ok: true,
    });
  });

  it('still checks a bound token', async () => {
    expect(await answer(authenticate()(request(aliceToken, { clientCertificate: alice.der })))).toMatchObject({
      ok: true,
    });
    await refusal(authenticate()(request(aliceToken, { clientCertificate: bob.der })), 'certificate_mismatch');
    await refusal(authenticate()(request(aliceToken)), 'certificate_required');
  });
});

describe('mtls off (the default)', () => {
  it('refuses a certificate-bound token it cannot check, whatever certificate comes with it, on hits too', async () => {
    // Before: admitted as a bearer token, so a stolen mTLS-bound token worked on every such route.
    const description =
      'The access token is bound to a client certificate, and this resource does not check client certificates';
    for (const authenticate of [createAuthenticator({ verifier }), createAuthenticator({ verifier, mtls: false })]) {
      expect(authenticate.mtls).toBeUndefined();
      for (const clientCertificate of [undefined, alice.der, bob.der]) {
        const refused = await refusal(
          authenticate(request(aliceToken, { clientCertificate })),
          'certificate_binding_unchecked',
        );
        expect(refused.status).toBe(401);
        expect(refused.body).toEqual({ error: 'invalid_token', error_description: description });
        expect(refused.headers['WWW-Authenticate']).toBe(
          `Bearer realm="api", error="invalid_token", error_description="${description}"`,
        );
      }
    }
    expect(verifier.peek(aliceToken)).toBeDefined(); // the token is good: the route cannot check its binding
  });

  it('admits an unbound token, and one whose cnf holds another confirmation method', async () => {
    const authenticate = createAuthenticator({ verifier });
    expect(await answer(authenticate(request(unboundToken)))).toMatchObject({ ok: true });
    const jwkBound = await tokenAt(idp, clock(), { cnf: { kid: 'a-key-id' } });
    expect(await answer(authenticate(request(jwkBound)))).toMatchObject({ ok: true });
  });

  it('admits a token bound to both a certificate and a DPoP key when it comes with its DPoP proof', async () => {
    const publicUrl = 'https://api.example.com';
    const dpopVerifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock, publicUrl });
    try {
      const key = await dpopClient();
      const both = await tokenAt(idp, clock(), { cnf: { 'x5t#S256': alice.thumbprint, jkt: key.jkt } });
      const authenticate = createAuthenticator({ verifier: dpopVerifier });
      const dpopRequest = async (token: string): Promise<RequestLike> => ({
        method: 'GET',
        url: '/payments',
        headers: {
          authorization: `DPoP ${token}`,
          dpop: await key.proof({ htu: `${publicUrl}/payments`, token, at: clock() }),
        },
      });
      expect(await answer(authenticate(await dpopRequest(both)))).toMatchObject({ ok: true, auth: { token: both } });
      // As Bearer it is refused: its DPoP binding is checked first.
      await refusal(authenticate(request(both)), 'dpop_bound_token');
      // A token bound to a certificate alone is no DPoP token: its DPoP proof binds nothing.
      await refusal(authenticate(await dpopRequest(aliceToken)), 'dpop_key_mismatch');
    } finally {
      await dpopVerifier.close();
    }
  });
});

describe('mtls: { certificateHeader } (a trusted TLS-terminating proxy)', () => {
  const authenticate = () => createAuthenticator({ verifier, mtls: { certificateHeader: 'X-Client-Cert' } });

  it('reads the certificate from the header (any casing of its name), in each shape proxies send', async () => {
    const base64 = Buffer.from(alice.der).toString('base64');
    for (const value of [alice.escapedPem, `:${base64}:`, base64]) {
      for (const headers of [{ 'x-client-cert': value }, new Headers({ 'X-Client-Cert': value })]) {
        const like: RequestLike = { method: 'GET', url: '/', headers: headers as never };
        if (headers instanceof Headers) headers.set('authorization', `Bearer ${aliceToken}`);
        else Object.assign(headers, { authorization: `Bearer ${aliceToken}` });
        expect(await answer(authenticate()(like))).toMatchObject({ ok: true });
      }
    }
  });

  it('gives each value its own answer when the same values come again (remembered thumbprints)', async () => {
    const guard = authenticate();
    const values = [alice.escapedPem, bob.escapedPem, 'garbage', '', alice.escapedPem.toLowerCase()];
    const expected = ['admitted', 'certificate_mismatch', 'certificate_unreadable', 'certificate_required'];
    for (let round = 0; round < 3; round++) {
      const outcomes: string[] = [];
      for (const value of values) {
        const settled = await answer(guard(request(aliceToken, { headers: { 'x-client-cert': value } })));
        outcomes.push(settled.ok ? 'admitted' : settled.error.reason);
      }
      expect(outcomes).toEqual([...expected, 'certificate_unreadable']);
    }
  });

  it('ignores the connection’s certificate: behind the proxy it is the proxy’s own', async () => {
    await refusal(authenticate()(request(aliceToken, { clientCertificate: alice.der })), 'certificate_required');
    const headers = { 'x-client-cert': bob.escapedPem };
    await refusal(
      authenticate()(request(aliceToken, { headers, clientCertificate: alice.der })),
      'certificate_mismatch',
    );
  });

  it('treats an empty field as no certificate (nginx, when the client sent none)', async () => {
    await refusal(authenticate()(request(aliceToken, { headers: { 'x-client-cert': '' } })), 'certificate_required');
  });

  it('refuses a malformed field with 401 invalid_token, never a 500 and never admitted', async () => {
    for (const value of ['garbage', alice.escapedPem.replace('%0A', '%ZZ'), [alice.escapedPem, alice.escapedPem]]) {
      const refused = await refusal(
        authenticate()(request(aliceToken, { headers: { 'x-client-cert': value } as never })),
        'certificate_unreadable',
      );
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual({
        error: 'invalid_token',
        error_description: 'The client certificate could not be read',
      });
    }
  });

  it('does not read the header for an unbound token it may admit (required: false)', async () => {
    const lenient = createAuthenticator({ verifier, mtls: { certificateHeader: 'x-client-cert', required: false } });
    expect(await answer(lenient(request(unboundToken, { headers: { 'x-client-cert': 'garbage' } })))).toMatchObject({
      ok: true,
    });
  });
});

describe('the mtls option', () => {
  it('is resolved once and exposed as authenticate.mtls', () => {
    expect(createAuthenticator({ verifier, mtls: true }).mtls).toEqual({
      required: true,
      certificateHeader: undefined,
    });
    expect(
      createAuthenticator({ verifier, mtls: { certificateHeader: 'X-Amzn-Mtls-Clientcert-Leaf', required: false } })
        .mtls,
    ).toEqual({ required: false, certificateHeader: 'x-amzn-mtls-clientcert-leaf' });
    expect(createAuthenticator({ verifier, mtls: {} }).mtls).toEqual({ required: true, certificateHeader: undefined });
  });

  it('is accepted by the guard shorthand without reaching the verifier options', () => {
    const guard = authGuard({ issuer: idp.issuer, audience: idp.audience, mtls: true });
    expect(guard.verifier).toBeDefined();
    return guard.verifier.close();
  });

  it.each([
    ['a string', 'on', /`mtls` must be true, false or \{ certificateHeader\?, required\? \}/],
    ['null', null, /`mtls` must be true, false/],
    ['an array', [], /`mtls` must be true, false/],
    [
      'a misspelt key',
      { certificateHeaders: 'x-client-cert' },
      /unknown option `mtls.certificateHeaders`.*did you mean `mtls.certificateHeader`/,
    ],
    ['required as a string', { required: 'false' }, /`mtls.required` must be true or false/],
    ['an empty header name', { certificateHeader: '' }, /`mtls.certificateHeader` must be a header name/],
    [
      'a header name with a space',
      { certificateHeader: 'x client cert' },
      /`mtls.certificateHeader` must be a header name/,
    ],
    [
      'a header name with a colon',
      { certificateHeader: 'x-client-cert:' },
      /`mtls.certificateHeader` must be a header name/,
    ],
  ])('refuses %s at construction', (_name, mtls, message) => {
    expect(() => createAuthenticator({ verifier, mtls: mtls as never })).toThrow(TypeError);
    expect(() => createAuthenticator({ verifier, mtls: mtls as never })).toThrow(message);
    expect(() => authGuard({ verifier, mtls: mtls as never })).toThrow(message);
  });
});
