/**
 * A DPoP client (RFC 9449) for tests, written the way a real one is: a key pair made with jose,
 * proofs signed with SignJWT (`typ: dpop+jwt`, the public `jwk` in the header), `ath` the
 * base64url SHA-256 of the access token. Every field can be overridden, for the proofs an attacker
 * would send.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  SignJWT,
} from 'jose';
import type { EmbeddedIdp } from './idp.js';

export type ProofAlg = 'ES256' | 'ES384' | 'EdDSA' | 'PS256' | 'RS256';

export interface ProofOptions {
  htm?: string;
  htu: string;
  /** The access token the proof goes with (`ath`); omitted for a token request. */
  token?: string;
  nonce?: string;
  /** Epoch ms. Default: now. */
  at?: number;
  jti?: string;
  /** Replaces header members (`undefined` removes one). */
  header?: Partial<JWTHeaderParameters> & Record<string, unknown>;
  /** Replaces claims (`undefined` removes one), of any type: an attacker's claims need not be well-typed. */
  claims?: Record<string, unknown>;
}

export interface DpopClient {
  readonly alg: ProofAlg;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
  /** RFC 7638 thumbprint of the public key: the `cnf.jkt` of tokens bound to it. */
  readonly jkt: string;
  proof(options: ProofOptions): Promise<string>;
}

export const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

export async function dpopClient(alg: ProofAlg = 'ES256'): Promise<DpopClient> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const publicJwk = await exportJWK(publicKey);
  return {
    alg,
    publicJwk,
    privateJwk: await exportJWK(privateKey),
    jkt: await calculateJwkThumbprint(publicJwk),
    proof({ htm = 'GET', htu, token, nonce, at = Date.now(), jti = randomUUID(), header = {}, claims = {} }) {
      const payload: JWTPayload = {
        htm,
        htu,
        iat: Math.floor(at / 1000),
        jti,
        ...(token === undefined ? {} : { ath: ath(token) }),
        ...(nonce === undefined ? {} : { nonce }),
        ...claims,
      };
      const protectedHeader = { alg, typ: 'dpop+jwt', jwk: publicJwk, ...header } as JWTHeaderParameters;
      return new SignJWT(dropUndefined(payload)).setProtectedHeader(dropUndefined(protectedHeader)).sign(privateKey);
    },
  };
}

/** A DPoP-bound access token from the real IdP (its token endpoint checks the proof with its own clock). */
export async function issueDpopToken(
  idp: EmbeddedIdp,
  client: DpopClient,
  options: { scope?: string } = {},
): Promise<string> {
  const dpop = await client.proof({ htm: 'POST', htu: `${idp.issuer}/token` });
  return idp.issueAccessToken({ ...options, dpop });
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
