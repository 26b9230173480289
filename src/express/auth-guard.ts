/**
 * `authGuard()`: Express/Connect middleware. Glue only: extract the bearer token, ask the
 * verifier, check scopes, set `req.auth`, and hand any failure to `next(err)` as an `AuthError`
 * whose `status` and `headers` tell the framework what to answer. Uses nothing Express-specific,
 * so it runs under Connect or a bare `node:http` server with a hand-written `next`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertB64Token, readBearerToken, type RequestLike } from '../core/request/bearer.js';
import { type AuthError, fitsChallenge } from '../core/shared/errors.js';
import { toAuthError } from '../core/shared/rejections.js';
import { requireScopes } from '../core/request/scopes.js';
import { portOf } from '../core/verify/verifier-port.js';
import { optionKeys, rejectUnknownKeys } from '../core/shared/option-keys.js';
import { VERIFIER_OPTION_KEYS, type VerifiedToken, type Verifier, type VerifierOptions } from '../core/verify/types.js';
import { buildVerifier } from '../core/verify/create-verifier.js';

declare global {
  namespace Express {
    interface Request {
      /** Set by `authGuard` once the bearer token is verified. */
      auth?: VerifiedToken;
    }
  }
}

export interface GuardSettings {
  /** Scopes the route needs; all must be granted. */
  scopes?: string[];
  /** Realm in `WWW-Authenticate` challenges. Default `'api'`. */
  realm?: string;
}

/** A scope token (RFC 6749 §3.3 NQCHAR): what a 403 challenge can name without mangling it. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** A verifier, or the options to build one (not both: options beside a verifier would be ignored). */
export type AuthGuardOptions = GuardSettings &
  (({ verifier: Verifier } & { [K in keyof VerifierOptions]?: never }) | (VerifierOptions & { verifier?: never }));

/** The keys authGuard accepts besides `verifier` or the verifier options (any other is refused): one line per option. */
const GUARD_SETTING_KEYS = optionKeys<GuardSettings>({ scopes: true, realm: true });
const WITH_VERIFIER_KEYS = [...GUARD_SETTING_KEYS, 'verifier'];
/** The shorthand builds a verifier: its options, single- or multi-issuer (`issuers`), are welcome too. */
const SHORTHAND_KEYS = [...GUARD_SETTING_KEYS, ...VERIFIER_OPTION_KEYS, 'issuers'];

export type NextFunction = (err?: unknown) => void;
export type GuardRequest = IncomingMessage & { auth?: VerifiedToken; body?: unknown };

export interface AuthGuardMiddleware {
  (req: GuardRequest, res: ServerResponse, next: NextFunction): void;
  /** The verifier this guard uses (built by the guard for the `{ issuer, audience }` shorthand). */
  readonly verifier: Verifier;
}

export function authGuard(options: AuthGuardOptions): AuthGuardMiddleware {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('revocable-jwt: authGuard needs options: { verifier } or { issuer, audience }');
  }
  const withVerifier = 'verifier' in options;
  if (withVerifier && (typeof options.verifier !== 'object' || options.verifier === null)) {
    throw new TypeError(
      `revocable-jwt: \`verifier\` is ${String(options.verifier)} in authGuard: pass the verifier createVerifier() returned`,
    );
  }
  // With a verifier, verifier options would be ignored: refuse them like any unknown key.
  rejectUnknownKeys(options, withVerifier ? WITH_VERIFIER_KEYS : SHORTHAND_KEYS, 'authGuard');
  const { scopes = [], realm = 'api' } = options;
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s))) {
    throw new TypeError(
      "revocable-jwt: `scopes` must be an array of scope names (printable ASCII, no spaces, double quotes or backslashes), e.g. ['notes:read']",
    );
  }
  if (typeof realm !== 'string' || !fitsChallenge(realm)) {
    throw new TypeError(
      "revocable-jwt: `realm` must be a non-empty string of printable ASCII without double quotes or backslashes, e.g. 'api'",
    );
  }
  let verifier: Verifier;
  if (withVerifier) verifier = (options as { verifier: Verifier }).verifier;
  else {
    const { scopes: _scopes, realm: _realm, ...verifierOptions } = options as GuardSettings & VerifierOptions;
    verifier = buildVerifier(verifierOptions, 'authGuard');
  }
  const required = Object.freeze([...scopes]);

  // Token rejections are reported by the verifier itself; request-level ones (no token, bad
  // header, missing scope) only the guard sees.
  const report = portOf(verifier).reportRejection;
  const fail = (next: NextFunction, error: unknown, reportIt = false): void => {
    const authError: AuthError = toAuthError(error).withRealm(realm);
    if (reportIt) report(authError);
    next(authError);
  };

  const admit = (req: GuardRequest, next: NextFunction, result: VerifiedToken): void => {
    try {
      requireScopes(result, required);
    } catch (error) {
      fail(next, error, true);
      return;
    }
    req.auth = result;
    next();
  };

  const guard = (req: GuardRequest, _res: ServerResponse, next: NextFunction): void => {
    let token: string;
    try {
      token = readBearerToken(req as unknown as RequestLike);
    } catch (error) {
      fail(next, error, true);
      return;
    }
    // Cache hit: answer synchronously, no promise, no microtask. A token identical to one already
    // verified is well-formed by construction, so its characters are only scanned on a miss.
    const cached = verifier.peek(token);
    if (cached !== undefined) {
      admit(req, next, cached);
      return;
    }
    try {
      assertB64Token(token);
    } catch (error) {
      fail(next, error, true);
      return;
    }
    verifier.verify(token).then(
      (result) => admit(req, next, result),
      (error: unknown) => fail(next, error),
    );
  };
  return Object.defineProperty(guard, 'verifier', { value: verifier, enumerable: true }) as AuthGuardMiddleware;
}
