/**
 * RFC 7662 token introspection: for opaque access tokens (which cannot be verified locally), or
 * for JWTs when the IdP's word is wanted. The answer is validated like a token: `active`, `exp`,
 * our `iss` and `aud`, and not a refresh token. Transport failures and 5xx are the IdP's problem
 * (503); `active: false` is the token's (401).
 *
 * Not oauth4webapi's introspection helpers (evaluated for issue 11): its Basic credentials escape
 * more characters than ours, so idp-text.ts would miss an echoed header; it reads bodies unbounded;
 * and a non-boolean `active` is an outage there, a refused token here.
 */
import { clientAuthenticatedRequest, type ClientAuthConfig } from './client-auth.js';
import { IdpUnavailableError, MisconfiguredError } from '../shared/errors.js';
import { HttpRequestError, sendRequest, parseRetryAfter, type FetchLike, type HttpResult } from './http-client.js';
import { readOAuthError, sentSecrets } from './idp-text.js';
import { invalidToken } from '../shared/rejections.js';
import type { AccessTokenClaims } from '../shared/verified-token.js';

export interface ResolvedIntrospectionOptions {
  client: ClientAuthConfig;
  endpoint: URL | undefined;
  mode: 'opaque' | 'always';
  maxAgeMs: number;
  allowMissingAudience: boolean;
  /** IdP calls per window for tokens it has not called active before (see introspection-gate.ts). */
  newTokenBudget: number;
  newTokenWindowMs: number;
}

/** Asks the IdP about `token`; resolves to the claims of an active token, or rejects. */
export async function introspectToken(
  endpoint: URL,
  config: ResolvedIntrospectionOptions,
  token: string,
  transport: { fetch: FetchLike; signal: AbortSignal },
): Promise<Record<string, unknown>> {
  let init: RequestInit;
  try {
    init = clientAuthenticatedRequest(config.client, { token, token_type_hint: 'access_token' });
  } catch (cause) {
    throw new IdpUnavailableError('Token introspection is not configured correctly', 30, { cause });
  }
  let result: HttpResult;
  try {
    result = await sendRequest(endpoint, {
      fetch: transport.fetch,
      timeoutMs: config.client.timeoutMs,
      maxBytes: 64 * 1024,
      signal: transport.signal,
      init,
    });
  } catch (cause) {
    throw new IdpUnavailableError('The introspection endpoint is unreachable', 5, { cause });
  }
  if (result.status !== 200) {
    const hinted = parseRetryAfter(result.headers.get('retry-after'));
    // The IdP's own words help whoever reads the log, minus anything of ours it echoes.
    const said = readOAuthError(result.text, sentSecrets(token, config.client, endpoint));
    const what = said.error ? ` (${said.error}${said.error_description ? `: ${said.error_description}` : ''})` : '';
    const cause = new HttpRequestError('status', `introspection endpoint answered ${result.status}${what}`, {
      status: result.status,
      ...(hinted !== undefined ? { retryAfter: hinted } : {}),
    });
    if (result.status === 401 || result.status === 403) {
      // The IdP refused our client (credentials, or a client not allowed to introspect): a
      // configuration to fix, not an outage to wait out.
      throw new MisconfiguredError(
        `the introspection endpoint refused our client (${result.status}); ` +
          'check `introspection.clientId`, `clientSecret` and `authMethod`',
        { cause },
      );
    }
    // Other 4xx: the IdP refused *us* for a reason we cannot tell apart from an outage; still not the client's fault.
    throw new IdpUnavailableError('Token introspection failed', hinted ?? (result.status >= 500 ? 5 : 30), { cause });
  }
  let body: unknown;
  try {
    body = JSON.parse(result.text);
  } catch (cause) {
    throw new IdpUnavailableError('Token introspection failed', 5, { cause });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new IdpUnavailableError('Token introspection failed', 5, {
      cause: new Error('introspection answer is not a JSON object'),
    });
  }
  return body as Record<string, unknown>;
}

/** Checks an introspection answer as carefully as a JWT's claims; returns the claims to expose. */
export function validateIntrospection(
  answer: Record<string, unknown>,
  expected: {
    issuer: string;
    audience: readonly string[];
    now: number;
    clockTolerance: number;
    allowMissingAudience: boolean;
  },
): AccessTokenClaims {
  if (answer.active !== true) throw invalidToken('token_inactive');
  const { active: _active, ...claims } = answer;
  const payload = claims as AccessTokenClaims & { token_type?: unknown };
  if (payload.exp !== undefined) {
    if (typeof payload.exp !== 'number') throw invalidToken('claim_invalid');
    if (payload.exp <= expected.now / 1000 - expected.clockTolerance) throw invalidToken('token_expired');
  }
  if (
    payload.nbf !== undefined &&
    (typeof payload.nbf !== 'number' || payload.nbf > expected.now / 1000 + expected.clockTolerance)
  ) {
    throw invalidToken('token_not_yet_valid');
  }
  if (payload.iss !== undefined && payload.iss !== expected.issuer) throw invalidToken('issuer_mismatch');
  const aud = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : undefined;
  if (aud === undefined ? !expected.allowMissingAudience : !aud.some((a) => expected.audience.includes(a))) {
    throw invalidToken('audience_mismatch');
  }
  if (typeof payload.token_type === 'string' && /refresh/i.test(payload.token_type))
    throw invalidToken('type_mismatch');
  // As for a JWT (registered-claims.ts): a token_use other than "access" (an ID token) never passes.
  if (payload.token_use !== undefined && payload.token_use !== 'access') throw invalidToken('type_mismatch');
  return { ...payload, iss: expected.issuer };
}
