/**
 * A token's revocation identity: the keys under which revoking it (the denylist key) or its
 * issuer, subject or session (the cutoff keys) is recorded and looked up. Derived here and only
 * here, from the token string and the issuer that accepted it, so that every path agrees on it:
 * verify() by signature or by introspection (either mode), revoke(), invalidate(), on any
 * instance, for any issuer.
 *
 * - A JWS (three segments whose payload decodes to a JSON object) is keyed by its own `jti`,
 *   scoped by the accepting issuer; without `jti`, by a SHA-256 of its signing input
 *   (`header.payload`): one signed content can carry more than one valid signature (ECDSA's
 *   (r, n − s) twin), and revoking one must revoke both. What an introspection answer says about
 *   `jti` is ignored: the token's own content decides, so a JWT invalidated after a signature
 *   check is refused when an IdP vouches for it, and the other way round.
 * - Anything else is opaque and keyed by a SHA-256 of the whole string, which needs nothing but
 *   the string: any instance can derive it, and it can only ever match that exact string.
 *
 * Every variable component is URI-encoded and the kinds carry distinct prefixes, so no two
 * identities share a key: issuers `…/c` and `…/c:9` with `jti`s `9:k` and `k` stay apart, and an
 * opaque string equal to some JWT's signing input does not hit that JWT's entry.
 */
import { decodeJwt } from 'jose';
import type { CutoffRevocation } from '../../stores/revocation-store.js';
import { invalidToken } from '../shared/rejections.js';
import { sha256 } from '../shared/sha256.js';
import { tokenDigestWords } from '../shared/token-digest.js';
import type { AccessTokenClaims, VerifiedToken } from '../shared/verified-token.js';

/** Where to look a verified token up; built once per token, reused on every hit. */
export interface RevocationKeys {
  readonly denylist: string;
  /** The denylist key's 128-bit digest as four words: what the compact token table compares. */
  readonly digest: Int32Array;
  readonly all: string;
  readonly subject: string | undefined;
  readonly session: string | undefined;
}

/**
 * The keys of one token. The digest (a SHA-256) is taken when first read: the revocation list
 * reads it only while it holds token revocations (revocation-list.ts), so a miss on an instance
 * with none pays no hash, and an entry cached before the first one arrives gets its digest on its
 * next check. Once taken it is kept: the hit path hashes nothing.
 */
class TokenRevocationKeys implements RevocationKeys {
  #digest: Int32Array | undefined;

  constructor(
    readonly denylist: string,
    readonly all: string,
    readonly subject: string | undefined,
    readonly session: string | undefined,
  ) {}

  get digest(): Int32Array {
    this.#digest ??= tokenDigestWords(this.denylist);
    return this.#digest;
  }
}

/**
 * The keys of a token accepted with `payload` (the verified JWT claims for `source: 'jwt'`, the
 * validated introspection answer otherwise; in both, `iss` is the accepting issuer).
 */
export function revocationKeysFor(accepted: Pick<VerifiedToken, 'token' | 'payload' | 'source'>): RevocationKeys {
  const { token, payload, source } = accepted;
  const iss = encodedIssuer(payload.iss ?? '');
  const sid = (payload as { sid?: unknown }).sid;
  return new TokenRevocationKeys(
    denylistKey(token, iss, source === 'jwt' ? payload : undefined),
    cutoffKey('all', iss, ''),
    typeof payload.sub === 'string' ? cutoffKey('subject', iss, payload.sub) : undefined,
    typeof sid === 'string' ? cutoffKey('session', iss, sid) : undefined,
  );
}

/**
 * The denylist key of `token` accepted by `issuer`. `signedClaims`: the token's own JWT claims
 * when the caller has already decoded (and verified) them; otherwise they are decoded here.
 */
export function denylistKeyFor(token: string, issuer: string, signedClaims?: AccessTokenClaims): string {
  return denylistKey(token, encodedIssuer(issuer), signedClaims);
}

function denylistKey(token: string, encodedIssuer: string, signedClaims: AccessTokenClaims | undefined): string {
  const claims = signedClaims ?? jwsClaimsOf(token);
  if (claims === undefined) return `opaque:${sha256(token)}`;
  // An empty jti names no token: as its key, it would make one logout revoke every such token.
  if (typeof claims.jti === 'string' && claims.jti !== '')
    return `jti:${encodedIssuer}:${encodedComponent(claims.jti)}`;
  return `jws:${sha256(token.slice(0, token.lastIndexOf('.')))}`;
}

/** The in-process key of a cutoff (issuer-wide, per subject, per session). */
export function cutoffKeyOf(revocation: CutoffRevocation): string {
  switch (revocation.type) {
    case 'subject':
      return cutoffKey('subject', encodedIssuer(revocation.issuer), revocation.subject);
    case 'session':
      return cutoffKey('session', encodedIssuer(revocation.issuer), revocation.session);
    case 'all':
      return cutoffKey('all', encodedIssuer(revocation.issuer), '');
  }
}

function cutoffKey(type: CutoffRevocation['type'], encodedIssuer: string, id: string): string {
  return `${type}:${encodedIssuer}:${encodedComponent(id)}`;
}

/**
 * A claim value as a key component. JSON can carry a lone UTF-16 surrogate ("\ud800"), which
 * has no encoding (encodeURIComponent throws; UTF-8 stores turn it into U+FFFD, so two ids would
 * share a key): a token naming one is refused like any malformed claim.
 */
function encodedComponent(value: string): string {
  // Most ids (base64url jtis, UUIDs) are encoded as they are: one scan instead of two.
  if (URI_UNRESERVED.test(value)) return value;
  if (LONE_SURROGATE.test(value)) throw invalidToken('claim_invalid');
  return encodeURIComponent(value);
}
/** What encodeURIComponent leaves as it is. */
const URI_UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]*$/;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** A verifier sees one issuer over and over: remember its last encoding (saves ~4 encodes per token). */
let lastIssuer = '';
let lastEncoded = '';
function encodedIssuer(issuer: string): string {
  if (issuer !== lastIssuer) {
    lastEncoded = encodeURIComponent(issuer);
    lastIssuer = issuer;
  }
  return lastEncoded;
}

/** The claims of a JWS-shaped token (unverified), or undefined for anything else. */
function jwsClaimsOf(token: string): AccessTokenClaims | undefined {
  if (token.split('.').length !== 3) return undefined;
  try {
    return decodeJwt<AccessTokenClaims>(token);
  } catch {
    return undefined;
  }
}
