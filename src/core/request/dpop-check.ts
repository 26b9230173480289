/**
 * What a route does with DPoP (RFC 9449), decided once at construction from the guard's `dpop`
 * mode and the verifier's settings: which schemes it accepts (and so which challenges it writes),
 * and the request check run on every request, cache hits included. A Bearer request with a
 * DPoP-bound token (`cnf.jkt`) is refused in every mode, `'off'` included: the token says it is
 * useless without its key. A DPoP request has its proof checked against the request, the token and
 * the key, and its `jti` claimed once in the store; the verified token may come from the cache,
 * the proof never does.
 */
import type { ChallengeScheme } from '../shared/challenge.js';
import { InvalidRequestError, InvalidTokenError } from '../shared/errors.js';
import type { VerifierPort } from '../verify/verifier-port.js';
import { expectedHtu } from './dpop-htu.js';
import { createNonceSource } from './dpop-nonce.js';
import { checkProof, createProofKeyCache, type ProofChecker } from './dpop-proof.js';
import type { RequestCheck } from './request-check.js';

/**
 * Whether a route takes DPoP-bound tokens (RFC 9449): `'off'` (Bearer only), `'allowed'` (Bearer
 * or DPoP; the default when the verifier has a `publicUrl`) or `'required'` (DPoP only). In every
 * mode a DPoP-bound token sent as Bearer is refused.
 *
 * @example
 * ```ts
 * import { authGuard, type DpopMode } from 'revocable-jwt';
 * const mode: DpopMode = 'required';
 * app.get('/payments', authGuard({ verifier, scopes: ['payments'], dpop: mode }), (req, res) => res.json({}));
 * ```
 */
export type DpopMode = 'off' | 'allowed' | 'required';

const MODES: readonly DpopMode[] = ['off', 'allowed', 'required'];

/** A route's DPoP behaviour, resolved. */
export interface DpopPolicy {
  /** The effective mode (`'off'` when the default found no public URL to check `htu` against). */
  readonly mode: DpopMode;
  /** The `DPoP` challenge (`algs`), unless the mode is `'off'`. */
  readonly scheme: ChallengeScheme | undefined;
  /** Run on every admitted token. */
  readonly check: RequestCheck;
}

/**
 * Resolves `mode` (the guard's `dpop`, possibly unset) against the verifier's settings. `origin`
 * (createAuthenticator's) overrides each issuer's `publicUrl` as the base of `htu`.
 *
 * @throws TypeError for an unknown mode, or `'allowed'`/`'required'` set explicitly while an
 * issuer has no public URL: its proofs' `htu` could not be checked.
 */
export function dpopPolicy(mode: unknown, port: VerifierPort, origin: string | undefined, factory: string): DpopPolicy {
  if (mode !== undefined && !MODES.includes(mode as DpopMode)) {
    throw new TypeError(
      `revocable-jwt: \`dpop\` in ${factory} must be 'off', 'allowed' or 'required' ` +
        '(proof settings such as algorithms go to createVerifier({ dpop }))',
    );
  }
  const checkers = new Map<string, ProofChecker & { base: string }>();
  const keys = createProofKeyCache();
  let unchecked: string | undefined;
  for (const [issuer, settings] of port.dpop) {
    const base = origin ?? settings.publicUrl;
    if (base === undefined) {
      unchecked ??= issuer;
      continue;
    }
    const nonces =
      settings.nonceSecret === undefined ? undefined : createNonceSource(settings.nonceSecret, settings.iatWindowMs);
    checkers.set(issuer, {
      base,
      settings,
      nonces,
      keys,
      claimOnce: (key, until) => port.claimOnce(key, until, issuer),
      proofsClaimed: port.proofsClaimed,
    });
  }
  if (unchecked !== undefined && (mode === 'allowed' || mode === 'required')) {
    throw new TypeError(
      `revocable-jwt: \`dpop: '${mode}'\` in ${factory} needs the public URL a DPoP proof's htu is checked ` +
        `against (issuer ${unchecked} has none): pass \`publicUrl\` to createVerifier ` +
        "(e.g. 'https://api.example.com'), never derived from the request's Host",
    );
  }
  // Unset: DPoP where every proof can be checked, Bearer only otherwise (existing setups keep working).
  const effective: DpopMode = mode === undefined ? (unchecked === undefined ? 'allowed' : 'off') : (mode as DpopMode);
  const algorithms = [...new Set([...checkers.values()].flatMap((c) => c.settings.algorithms))];
  const single = checkers.size === 1 ? [...checkers.values()][0] : undefined;

  const check: RequestCheck = (auth, presented, headers) => {
    const cnf = auth.payload.cnf;
    const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>).jkt : undefined;
    if (presented.scheme === 'Bearer') {
      if (jkt !== undefined) throw new InvalidTokenError('dpop_bound_token');
      return;
    }
    if (typeof jkt !== 'string' || jkt === '')
      throw new InvalidTokenError('dpop_key_mismatch', 'The access token is not DPoP-bound: send it as a Bearer token');
    const iss = auth.payload.iss;
    const checker = single ?? (typeof iss === 'string' ? checkers.get(iss) : undefined);
    if (checker === undefined) throw new InvalidTokenError('dpop_key_mismatch');
    const htu = expectedHtu(checker.base, presented.request);
    if (htu === undefined) throw new InvalidRequestError('malformed_request', 'The request target is not a path');
    const { method, identity } = presented.request;
    const input = { proof: presented.proof!, token: presented.token, jkt, method, htu, identity };
    return checkProof(input, checker).then((nonce) => {
      if (nonce !== undefined) headers.set('DPoP-Nonce', nonce);
    });
  };

  return Object.freeze({
    mode: effective,
    scheme:
      effective === 'off'
        ? undefined
        : Object.freeze({ name: 'DPoP' as const, params: Object.freeze([['algs', algorithms.join(' ')] as const]) }),
    check,
  });
}
