/**
 * Whether a fetched Status List Token is one we believe (draft-ietf-oauth-status-list §5.1, §8.3):
 * a JWT with `typ: statuslist+jwt`, signed with the issuer's own keys and algorithms (the same key
 * selection as access tokens), `sub` equal to the URI we fetched it from, `iat` not in the future,
 * `exp` (if any) not passed, `ttl` (if any) a positive number, `iss` (if any) our issuer, and a
 * `status_list` whose `lst` inflates within the cap. Anything else is the IdP's fault, not the
 * client's: it is reported as an `HttpRequestError` (`invalid_body`, `too_large`) that the caller
 * turns into a 503, never as a 401 for the access token being checked.
 */
import { HttpRequestError } from '../idp/http-client.js';
import { decodeStatusList, isStatusBits, type StatusArray } from '../revoke/status-list.js';
import { IdpUnavailableError, MisconfiguredError } from '../shared/errors.js';
import { toAuthError } from '../shared/rejections.js';
import { expAcceptedUntil } from '../shared/token-lifetime.js';
import { decodeClaimsSet } from './registered-claims.js';
import type { SignatureCheck } from './signature.js';
import { mediaType } from './token-shape.js';

const STATUS_LIST_TYP = mediaType('statuslist+jwt');

/** A Status List Token we believe, decoded. Instants in epoch ms. */
export interface VerifiedStatusList {
  readonly statuses: StatusArray;
  /** `iat`, in seconds (as signed): a list older than the one held is a replay. */
  readonly issuedAt: number;
  /** From when the list must not be relied on (`exp` + tolerance), if it has `exp`. */
  readonly expiresAt: number | undefined;
  /** Its `ttl`, in ms, if it has one. */
  readonly ttlMs: number | undefined;
}

export interface StatusListTokenRules {
  issuer: string;
  algorithms: string[];
  clockTolerance: number;
  clock: () => number;
  maxListBytes: number;
  signature: Pick<SignatureCheck, 'verifySignature'>;
}

/**
 * Verifies and decodes the Status List Token `jwt` fetched from `uri`. Rejects with an
 * `HttpRequestError` for a list we refuse, or with the key source's own `IdpUnavailableError` /
 * `MisconfiguredError` when the issuer's keys cannot be had.
 */
export async function verifyStatusListToken(
  jwt: string,
  uri: string,
  rules: StatusListTokenRules,
): Promise<VerifiedStatusList> {
  const target = `the status list ${describe(uri)}`;
  const refuse = (why: string, cause?: unknown): never => {
    throw new HttpRequestError('invalid_body', `${target} is refused: ${why}`, { cause });
  };
  const now = rules.clock();
  let payload: Record<string, unknown>;
  try {
    // The signature with the issuer's keys and algorithms (canonical base64url first), then the
    // claims this list must carry, on the one parse.
    const jws = await rules.signature.verifySignature(jwt);
    if (mediaType(jws.protectedHeader.typ) !== STATUS_LIST_TYP)
      return refuse('type_mismatch: its `typ` is not statuslist+jwt');
    if (!jws.b64) return refuse('it uses an unencoded payload');
    payload = decodeClaimsSet(jws.payload);
  } catch (error) {
    if (error instanceof IdpUnavailableError || error instanceof MisconfiguredError) throw error;
    if (error instanceof HttpRequestError) throw error;
    return refuse(toAuthError(error).reason, error);
  }
  for (const claim of ['sub', 'iat', 'status_list'])
    if (!Object.hasOwn(payload, claim)) refuse(`claim_missing: it has no \`${claim}\``);
  if (payload.sub !== uri) refuse('claim_invalid: its `sub` is not the URI it was fetched from');
  const { exp, nbf } = payload;
  if (exp !== undefined && (typeof exp !== 'number' || exp * 1000 <= now - rules.clockTolerance * 1000))
    refuse('token_expired: it expired');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf * 1000 > now + rules.clockTolerance * 1000))
    refuse('token_not_yet_valid: it is not valid yet');
  const {
    iss,
    iat,
    ttl,
    status_list: list,
  } = payload as {
    iss?: unknown;
    iat: unknown;
    ttl?: unknown;
    status_list: unknown;
    exp?: unknown;
  };
  if (iss !== undefined && iss !== rules.issuer) refuse('its `iss` is another issuer');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return refuse('`iat` is not a number');
  if (iat * 1000 > now + rules.clockTolerance * 1000) refuse('it is issued in the future');
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0))
    refuse('`ttl` is not a positive number');
  if (typeof list !== 'object' || list === null || Array.isArray(list)) return refuse('`status_list` is not an object');
  const { bits, lst } = list as { bits?: unknown; lst?: unknown };
  if (!isStatusBits(bits)) return refuse('`status_list.bits` is not 1, 2, 4 or 8');
  if (typeof lst !== 'string') return refuse('`status_list.lst` is not a string');
  let statuses: StatusArray;
  try {
    statuses = await decodeStatusList(lst, bits, rules.maxListBytes);
  } catch (error) {
    const { kind, message } = error as HttpRequestError;
    throw new HttpRequestError(kind, `${target} is refused: ${message.replace(/^the status list /, '')}`, {
      cause: error,
    });
  }
  return {
    statuses,
    issuedAt: iat,
    expiresAt: typeof exp === 'number' ? expAcceptedUntil(exp, rules.clockTolerance) : undefined,
    ttlMs: typeof ttl === 'number' ? ttl * 1000 : undefined,
  };
}

/** Origin and path only (a query may carry anything). */
function describe(uri: string): string {
  try {
    const url = new URL(uri);
    return `${url.origin}${url.pathname}`;
  } catch {
    return 'of the token';
  }
}
