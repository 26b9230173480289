/**
 * Signing keys given in the configuration (`createVerifier({ jwks: { keys } })`) instead of
 * fetched from the issuer: for IdPs without a reachable JWKS, air-gapped deployments, tests. The
 * same key selection as a fetched set (jose's `createLocalJWKSet`: kid, alg/kty/crv, use,
 * key_ops), never a request; an unknown `kid` is refused at once (there is nothing to refetch).
 *
 * Everything that can be checked without crypto is checked at construction, so a key set that
 * cannot work fails there, with a message naming the key: public keys only, unique `kid`s, key
 * types and curves jose verifies with, RSA moduli of at least 2048 bits, each key usable by an
 * allowed algorithm. A key that still fails to import (malformed numbers) is our configuration's
 * fault: a `MisconfiguredError` (500), never a 401 blaming the token.
 */
import { errors as joseErrors, type FlattenedJWSInput, type JWK, type JWSHeaderParameters } from 'jose';
import { MisconfiguredError } from '../shared/errors.js';
import type { MaybePromise } from '../shared/maybe-promise.js';
import { rejectUnknownKeys } from '../shared/option-keys.js';
import { algorithmFits, flatJwk, type JwksStats } from './jwks.js';
import { KeySelection, type VerificationKey } from './key-selection.js';

/** Members only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const CURVES: Record<string, readonly string[]> = { EC: ['P-256', 'P-384', 'P-521'], OKP: ['Ed25519', 'Ed448'] };
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** 2048 bits (RFC 7518 §3.3; jose refuses less): 256 bytes, 342 base64url characters. */
const MIN_RSA_MODULUS_CHARS = 342;

const fail = (message: string): never => {
  throw new TypeError(`revocable-jwt: ${message}`);
};

/**
 * `jwks` as `createVerifier` got it, checked (see the file comment) and copied: the keys, or a
 * TypeError saying which key is wrong and how. `algorithms` is the verifier's allowlist.
 */
export function resolveStaticJwks(value: unknown, algorithms: readonly string[], factory: string, path = ''): JWK[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(`\`${path}jwks\` must be a JWK Set: { keys: [...] } of public keys`);
  rejectUnknownKeys(value as object, ['keys'], factory, `${path}jwks.`);
  const { keys } = value as { keys?: unknown };
  if (!Array.isArray(keys) || keys.length === 0) fail(`\`${path}jwks.keys\` must be a non-empty array of public JWKs`);
  const kids = new Set<string>();
  return (keys as unknown[]).map((key, index) => {
    const name = `${path}jwks.keys[${index}]`;
    if (typeof key !== 'object' || key === null || Array.isArray(key)) fail(`\`${name}\` must be a JWK object`);
    const jwk = key as Record<string, unknown>;
    const leaked = PRIVATE_MEMBERS.filter((member) => Object.hasOwn(jwk, member));
    if (jwk.kty === 'oct')
      fail(`\`${name}\` is a symmetric (oct) key: a shared secret goes in \`secret\`, with an HMAC algorithm`);
    if (leaked.length > 0)
      fail(
        `\`${name}\` is a private key (it has ${leaked.join(', ')}): configure only its public part; ` +
          'anyone who reads the configuration could otherwise sign tokens',
      );
    checkKeyMaterial(jwk, name);
    if (jwk.kid !== undefined) {
      if (typeof jwk.kid !== 'string' || jwk.kid === '') fail(`\`${name}.kid\` must be a non-empty string`);
      if (kids.has(jwk.kid as string))
        fail(`kid ${JSON.stringify(jwk.kid)} appears twice in \`${path}jwks.keys\`: each key needs its own kid`);
      kids.add(jwk.kid as string);
    }
    if (jwk.use !== undefined && jwk.use !== 'sig')
      fail(`\`${name}.use\` is ${JSON.stringify(jwk.use)}: a signing key is 'sig'`);
    if (jwk.key_ops !== undefined && (!Array.isArray(jwk.key_ops) || !jwk.key_ops.includes('verify')))
      fail(`\`${name}.key_ops\` must include 'verify'`);
    const usable = algorithms.filter((alg) => algorithmFits(alg, jwk as JWK));
    if (jwk.alg !== undefined) {
      if (typeof jwk.alg !== 'string' || !algorithmFits(jwk.alg, jwk as JWK))
        fail(`\`${name}.alg\` ${JSON.stringify(jwk.alg)} does not fit a ${String(jwk.kty)} key${curveOf(jwk)}`);
      if (!algorithms.includes(jwk.alg as string))
        fail(`\`${name}.alg\` is ${jwk.alg as string}, which \`algorithms\` does not allow: add it, or drop the key`);
    } else if (usable.length === 0) {
      fail(
        `\`${name}\` (${String(jwk.kty)}${curveOf(jwk)}) fits none of \`algorithms\` (${algorithms.join(', ')}): ` +
          'add an algorithm for it, or drop the key',
      );
    }
    return flatJwk(jwk as JWK);
  });
}

/** The members each key type needs, in base64url, and the types and curves jose verifies with. */
function checkKeyMaterial(jwk: Record<string, unknown>, name: string): void {
  const need = (members: string[]) => {
    for (const member of members) {
      const value = jwk[member];
      if (typeof value !== 'string' || !BASE64URL.test(value))
        fail(
          `\`${name}.${member}\` is missing or not base64url ` +
            `(an ${String(jwk.kty)} public key needs ${members.join(', ')})`,
        );
    }
  };
  switch (jwk.kty) {
    case 'RSA':
      need(['n', 'e']);
      if ((jwk.n as string).replace(/^A+/, '').length < MIN_RSA_MODULUS_CHARS - 1)
        fail(`\`${name}\` is an RSA key under 2048 bits: such keys are refused (RFC 7518 §3.3)`);
      return;
    case 'EC':
    case 'OKP':
      if (!CURVES[jwk.kty].includes(jwk.crv as string))
        fail(`\`${name}.crv\` must be one of ${CURVES[jwk.kty]!.join(', ')} for a ${jwk.kty} signing key`);
      need(jwk.kty === 'EC' ? ['x', 'y'] : ['x']);
      return;
    default:
      fail(`\`${name}.kty\` must be RSA, EC or OKP (got ${JSON.stringify(jwk.kty)})`);
  }
}

function curveOf(jwk: Record<string, unknown>): string {
  return typeof jwk.crv === 'string' ? ` on ${jwk.crv}` : '';
}

/** The configured keys, served like a fetched JWKS that never changes. */
export class StaticJwks {
  private readonly keys: KeySelection;
  private readonly count: number;

  constructor(
    keys: JWK[],
    private readonly since: number,
  ) {
    this.keys = new KeySelection(keys);
    this.count = keys.length;
  }

  /**
   * A jose key resolver: the configured key that must have signed a token with this header; at
   * once when selected before (key-selection.ts), else a promise.
   */
  readonly getKey = (header: JWSHeaderParameters, token: FlattenedJWSInput): MaybePromise<VerificationKey> =>
    this.keys.known(header, token) ?? this.select(header, token);

  private readonly select = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<VerificationKey> => {
    try {
      return await this.keys.select(header, token);
    } catch (error) {
      // No such kid, or several kid-less candidates (signature.ts tries them): the token's business.
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys)
        throw error;
      // The alg passed the allowlist before any key was asked for: what fails here is importing ours.
      throw new MisconfiguredError('a key configured in `jwks` cannot be imported; check its members', {
        cause: error,
      });
    }
  };

  /** No fetches, ever; `fetchedAt` is when the verifier was created (the keys have been there since). */
  stats(): JwksStats {
    return { fetches: 0, failures: 0, keys: this.count, fetchedAt: this.since };
  }
}
