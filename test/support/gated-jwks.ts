/**
 * An RS256 signing key (kid `k1`) whose JWKS is fetched through a gate: until `release()` is
 * called, every verification waits for the keys, so it is still in flight. Tests of what happens
 * while a verification runs need one: a verification whose key is at hand ends before verify()
 * returns (the synchronous miss), so nothing else can be in flight.
 */
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export interface GatedJwks {
  /** A `fetch` for the verifier: answers the JWKS once released. */
  fetch: () => Promise<Response>;
  /** Lets every waiting (and later) JWKS request through. */
  release: () => void;
  /** A token with exactly these claims, signed with the gated key. */
  sign: (claims: JWTPayload) => Promise<string>;
}

export async function gatedJwks(): Promise<GatedJwks> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    fetch: async () => {
      await released;
      return Response.json({ keys: [jwk] });
    },
    release,
    sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey),
  };
}
