/**
 * The issuer's published keys, fetched the way the verifier fetches them (the library's URL policy
 * and HTTP client), then looked at one by one: could the verifier use this key for a signature
 * (type, `use`, `key_ops`, `alg` among the accepted algorithms, material that imports), and is
 * anything published that must not be (private or symmetric keys)?
 */
import { importJWK, type JWK } from 'jose';
import type { IssuerMetadata } from '../core/idp/discovery.js';
import { fetchJson } from '../core/idp/http-client.js';
import { flatJwk } from '../core/idp/jwks.js';
import { parseTrustedUrl } from '../core/idp/url-policy.js';
import { ASYMMETRIC_ALGORITHMS } from '../core/verify/options.js';
import { unreachableHints } from './discovery-check.js';
import type { DoctorContext } from './doctor-context.js';
import { type Check, check, plainMessage } from './report.js';

/** The verifier's own cap on a JWKS document (verifier.ts). */
const MAX_JWKS_BYTES = 512 * 1024;
/** Members that only a private (or symmetric) key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/** One published key, as the doctor judged it. */
export interface PublishedKey {
  kid: string | undefined;
  kty: string | undefined;
  alg: string | undefined;
  use: string | undefined;
  crv: string | undefined;
  /** The verifier may check signatures with it. */
  usable: boolean;
  /** Why it is not usable, or what is odd about it. */
  problems: string[];
  /** The algorithms this key can verify that the verifier accepts. */
  algorithms: string[];
}

export interface JwksOutcome {
  check: Check;
  /** The keys, when the set could be fetched. */
  keys: PublishedKey[] | undefined;
}

export async function checkJwks(context: DoctorContext, metadata: IssuerMetadata | undefined): Promise<JwksOutcome> {
  if (metadata === undefined) {
    return { keys: undefined, check: check('jwks', 'info', 'not checked: discovery failed, so jwks_uri is unknown') };
  }
  let uri: URL;
  try {
    uri = parseTrustedUrl(metadata.jwks_uri, 'jwks_uri (from discovery)', context.allowHttp);
  } catch (error) {
    return { keys: undefined, check: check('jwks', 'fail', `unusable jwks_uri: ${plainMessage(error)}`) };
  }
  let body: Record<string, unknown>;
  try {
    body = await fetchJson(uri, {
      fetch: context.http.fetch,
      timeoutMs: context.timeoutMs,
      maxBytes: MAX_JWKS_BYTES,
      signal: context.signal,
    });
  } catch (error) {
    return {
      keys: undefined,
      check: check('jwks', 'fail', `the JWKS could not be fetched: ${plainMessage(error)}`, [
        ...unreachableHints(context, error),
        `jwks_uri is ${uri.href}`,
      ]),
    };
  }
  if (!Array.isArray(body.keys)) {
    return { keys: undefined, check: check('jwks', 'fail', `${uri.href} has no "keys" array: it is not a JWK Set`) };
  }
  const keys = await Promise.all(body.keys.map(judgeKey));
  return { keys, check: summarize(uri, keys) };
}

async function judgeKey(raw: unknown): Promise<PublishedKey> {
  const jwk = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? flatJwk(raw as JWK) : {};
  const text = (member: string) =>
    typeof jwk[member as keyof JWK] === 'string' ? String(jwk[member as keyof JWK]) : undefined;
  const key: PublishedKey = {
    kid: text('kid'),
    kty: text('kty'),
    alg: text('alg'),
    use: text('use'),
    crv: text('crv'),
    usable: false,
    problems: [],
    algorithms: [],
  };
  const leaked = PRIVATE_MEMBERS.filter((member) => member in jwk);
  if (key.kty === 'oct')
    key.problems.push('a symmetric (oct) key: never used for verification, and it should not be public');
  else if (leaked.length > 0)
    key.problems.push(`PRIVATE key material published (${leaked.join(', ')}): rotate this key now`);
  if (key.use !== undefined && key.use !== 'sig') key.problems.push(`use "${key.use}": not a signing key`);
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify'))
    key.problems.push(`key_ops ${JSON.stringify(jwk.key_ops)} has no "verify"`);
  key.algorithms = algorithmsFor(key);
  if (key.kty !== 'oct' && key.algorithms.length === 0) {
    const type = `${key.kty ?? '(no kty)'}${key.crv ? ` ${key.crv}` : ''}`;
    key.problems.push(
      key.alg === undefined
        ? `no accepted algorithm for a ${type} key`
        : (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(key.alg)
          ? `alg ${key.alg} does not fit a ${type} key`
          : `alg ${key.alg} is not among the accepted algorithms (${ASYMMETRIC_ALGORITHMS.join(', ')})`,
    );
  }
  if (key.problems.length === 0) {
    try {
      await importJWK(jwk, key.algorithms[0]);
      key.usable = true;
    } catch (error) {
      key.problems.push(`its key material does not import: ${plainMessage(error)}`);
    }
  }
  return key;
}

/** The accepted algorithms this key can verify: its own `alg`, or those of its type and curve. */
export function algorithmsFor(key: Pick<PublishedKey, 'kty' | 'crv' | 'alg'>): string[] {
  const accepted: readonly string[] = ASYMMETRIC_ALGORITHMS;
  const byType =
    key.kty === 'RSA'
      ? ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
      : key.kty === 'EC'
        ? ({ 'P-256': ['ES256'], 'P-384': ['ES384'], 'P-521': ['ES512'] }[key.crv ?? ''] ?? [])
        : key.kty === 'OKP' && key.crv === 'Ed25519'
          ? ['EdDSA', 'Ed25519']
          : [];
  const candidates = key.alg === undefined ? byType : byType.includes(key.alg) ? [key.alg] : [];
  return candidates.filter((alg) => accepted.includes(alg));
}

function summarize(uri: URL, keys: PublishedKey[]): Check {
  const usable = keys.filter((key) => key.usable);
  const details = keys.map(describeKey);
  const data = { uri: uri.href, keys };
  if (keys.some((key) => key.problems.some((p) => p.startsWith('PRIVATE')))) {
    return check('jwks', 'fail', `${uri.href} publishes private key material`, details, data);
  }
  if (usable.length === 0) {
    const none = keys.length === 0 ? 'no keys at all' : `${keys.length} key(s), none usable for signatures`;
    return check('jwks', 'fail', `${uri.href}: ${none}`, details, data);
  }
  const kids = usable.map((key) => key.kid).filter((kid) => kid !== undefined);
  const duplicated = kids.filter((kid, index) => kids.indexOf(kid) !== index);
  if (duplicated.length > 0) details.push(`kid ${[...new Set(duplicated)].join(', ')} used by more than one key`);
  if (usable.length - kids.length > 2) {
    details.push(
      'more than two keys without kid: a token without kid is checked against the first two of its type only',
    );
  }
  const status = duplicated.length > 0 || keys.length > usable.length ? 'warn' : 'ok';
  return check('jwks', status, `${uri.href}: ${usable.length} signing key(s) usable of ${keys.length}`, details, data);
}

function describeKey(key: PublishedKey): string {
  const parts = [
    `kid=${key.kid ?? '(none)'}`,
    `kty=${key.kty ?? '?'}${key.crv ? `/${key.crv}` : ''}`,
    `alg=${key.alg ?? '(any of its type)'}`,
    `use=${key.use ?? '(unset)'}`,
  ];
  const problems = key.problems.length > 0 ? `: ${key.problems.join('; ')}` : '';
  return `${key.usable ? 'usable' : 'ignored'} ${parts.join(' ')}${problems}`;
}
