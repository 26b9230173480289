/**
 * The internal port between a verifier and the library's own collaborators: reachable only for
 * verifiers made by createVerifier() (a foreign object fails at construction with a TypeError),
 * invisible on the verifier object; and errors shared by coalesced verifications are never
 * mutated by the guards that render them.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import {
  type AuthError,
  authGuard,
  backchannelLogoutRoute,
  createVerifier,
  processLogoutToken,
  securityEventRoute,
  type Verifier,
} from '../../../src/index.js';
import { testClock } from '../../support/idp.js';

const ISSUER = 'https://idp.example/';
const SECRET = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const verifiers: Verifier[] = [];
afterAll(async () => Promise.all(verifiers.map((v) => v.close())));

function hmacVerifier(issuers?: string[]): Verifier {
  const clock = testClock();
  const verifier = issuers
    ? createVerifier({
        clock,
        algorithms: ['HS256'],
        issuers: issuers.map((issuer, index) => ({ issuer, audience: 'api', secret: `${index}`.repeat(32) })),
      })
    : createVerifier({ issuer: ISSUER, audience: 'api', clock, algorithms: ['HS256'], secret: SECRET });
  verifiers.push(verifier);
  return verifier;
}

describe('the internal port', () => {
  // Looks like a verifier, but did not come from createVerifier().
  const foreign = {
    issuer: ISSUER,
    issuers: [ISSUER],
    audience: ['api'],
    verify: async () => ({}),
    peek: () => undefined,
    revoke: async () => ({}),
    invalidateSubject: async () => undefined,
  } as unknown as Verifier;

  it.each([
    ['authGuard', () => authGuard({ verifier: foreign })],
    ['backchannelLogoutRoute', () => backchannelLogoutRoute({ verifier: foreign, clientId: 'rp' })],
    ['securityEventRoute', () => securityEventRoute({ verifier: foreign, audience: 'rp' })],
  ])('%s refuses a verifier not made by createVerifier(), at construction', (_name, build) => {
    expect(build).toThrow(TypeError);
    expect(build).toThrow(/must come from createVerifier\(\)/);
  });

  it('processLogoutToken refuses one too, with the same TypeError', async () => {
    await expect(processLogoutToken(foreign, 'a.b.c', { clientId: 'rp' })).rejects.toThrow(
      /must come from createVerifier\(\)/,
    );
  });

  it('leaves nothing of itself on the verifier object (no symbol members, single- and multi-issuer)', () => {
    for (const verifier of [hmacVerifier(), hmacVerifier([ISSUER, 'https://other.example/'])]) {
      for (
        let o: object | null = verifier;
        o !== null && o !== Object.prototype;
        o = Object.getPrototypeOf(o) as object | null
      ) {
        expect(Object.getOwnPropertySymbols(o)).toEqual([]);
      }
      expect(() => authGuard({ verifier })).not.toThrow();
    }
  });
});

describe('a rejection shared by coalesced verifications', () => {
  it('is copied, never mutated, by guards of different realms: each answer carries its own realm', async () => {
    const verifier = hmacVerifier();
    const iat = Math.floor(testClock()() / 1000);
    const genuine = await new SignJWT({ sub: 'alice', iat, exp: iat + 60 })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience('api')
      .sign(SECRET);
    const forged = `${genuine.slice(0, genuine.lastIndexOf('.') + 1)}${'A'.repeat(43)}`; // a signature that fails
    const guards = { a: authGuard({ verifier, realm: 'a' }), b: authGuard({ verifier, realm: 'b' }) };
    const seen: Record<string, AuthError> = {};
    const request = () =>
      ({
        headers: { authorization: `Bearer ${forged}` },
        rawHeaders: ['Authorization', `Bearer ${forged}`],
      }) as unknown as IncomingMessage;
    // Both start in the same tick: the second verification joins the first (one signature check, one rejection).
    await Promise.all(
      (['a', 'b'] as const).map(
        (realm) =>
          new Promise<void>((resolve) =>
            guards[realm](
              request(),
              {} as ServerResponse,
              (error?: unknown) => ((seen[realm] = error as AuthError), resolve()),
            ),
          ),
      ),
    );
    expect(seen.a!.reason).toBe('signature_invalid');
    expect(seen.a!.headers['WWW-Authenticate']).toContain('realm="a"');
    expect(seen.b!.headers['WWW-Authenticate']).toContain('realm="b"');
  });
});
