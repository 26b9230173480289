/**
 * Validates `createVerifier` options once, at construction, with messages that say how to fix
 * them. Misuse is a TypeError, kept apart from bad tokens at run time.
 */
import { createMemoryStore } from '../../stores/memory-store.js';
import type { RevocationStore } from '../../stores/revocation-store.js';
import type { JWK } from 'jose';
import type { FetchLike } from '../idp/http-client.js';
import type { ResolvedIntrospectionOptions } from '../idp/introspection.js';
import type { ResolvedRevocationOptions } from '../revoke/revoker.js';
import { durationMs, durationSeconds, MAX_WAIT_SECONDS } from '../shared/duration-option.js';
import { resolveLogger, type VerifierLog } from '../shared/logger.js';
import { rejectUnknownKeys, rejectUnsetValue } from '../shared/option-keys.js';
import {
  CACHE_OPTION_KEYS,
  INTROSPECTION_OPTION_KEYS,
  REVOCATION_OPTION_KEYS,
  VERIFIER_OPTION_KEYS,
  type AudienceClaim,
  type VerifierOptions,
} from './types.js';
import { resolveStaticJwks } from '../idp/static-jwks.js';
import { parseIssuerUrl, parseTrustedUrl } from '../idp/url-policy.js';
import { type DpopSettings, resolveDpopSettings } from './dpop-options.js';
import { resolveStatusListSettings, type StatusListSettings } from './status-list-options.js';

export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

/** Each request to the IdP (discovery, JWKS, revocation, introspection): 5 s, at most a minute. */
const IDP_TIMEOUT = { default: 5, max: MAX_WAIT_SECONDS };

export interface ResolvedOptions {
  issuer: string;
  audience: string[];
  /** The claim `audience` is matched against (`aud` unless configured). */
  audienceClaim: AudienceClaim;
  jwksUri: URL | undefined;
  /** `jwks`: keys given, none fetched. */
  staticKeys: JWK[] | undefined;
  algorithms: string[];
  secret: Uint8Array | undefined;
  clockTolerance: number;
  requiredClaims: string[];
  typ: string | undefined;
  cache: { max: number; maxTtlMs: number } | false;
  jwksCooldownMs: number;
  jwksMaxAgeMs: number;
  timeoutMs: number;
  allowHttp: boolean;
  fetch: FetchLike;
  clock: () => number;
  maxTokenLength: number;
  maxTokenLifetimeMs: number;
  /** `maxTokenAge`, if set. */
  maxTokenAgeMs: number | undefined;
  revocation: ResolvedRevocationOptions | undefined;
  introspection: ResolvedIntrospectionOptions | undefined;
  store: RevocationStore;
  dpop: DpopSettings;
  /** Token Status List checks; undefined with `statusList: { mode: 'off' }`. */
  statusList: StatusListSettings | undefined;
  /** Where problems are told; undefined with `logger: false`. */
  log: VerifierLog | undefined;
}

export type { ResolvedRevocationOptions } from '../revoke/revoker.js';

const fail = (message: string): never => {
  throw new TypeError(`revocable-jwt: ${message}`);
};

/**
 * `factory` and `path` name the caller in messages (`authGuard`, `issuers[1].`); `inherited` is the
 * log of a multi-issuer verifier, for an entry without its own `logger`.
 */
export function resolveVerifierOptions(
  options: VerifierOptions,
  factory = 'createVerifier',
  path = '',
  inherited?: { log: VerifierLog | undefined },
): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    fail('createVerifier needs an options object: { issuer, audience }');
  rejectUnknownKeys(options, VERIFIER_OPTION_KEYS, factory, path);
  rejectUnsetValue(options, 'secret', factory, path);
  const allowHttp = options.allowHttp === true;

  if (options.issuer === undefined || options.issuer === '')
    fail("`issuer` is required, e.g. issuer: 'https://idp.example.com/'");
  if (typeof options.issuer !== 'string')
    fail('`issuer` must be a string (the exact `iss` value your IdP puts in tokens)');
  parseIssuerUrl(options.issuer, `${path}issuer`, allowHttp);

  const audience = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!Array.isArray(audience) || audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')) {
    fail("`audience` is required: a non-empty string or array of strings, e.g. audience: 'https://api.example.com'");
  }

  const audienceClaim = options.audienceClaim ?? 'aud';
  if (audienceClaim !== 'aud' && audienceClaim !== 'client_id') {
    fail(
      "`audienceClaim` must be 'aud' (the default) or 'client_id' (IdPs whose access tokens name the app client " +
        'in client_id and carry no aud, e.g. Amazon Cognito)',
    );
  }

  const jwksUri = options.jwksUri === undefined ? undefined : parseTrustedUrl(options.jwksUri, 'jwksUri', allowHttp);
  if (jwksUri !== undefined && options.jwks !== undefined)
    fail('`jwks` (keys given) and `jwksUri` (keys fetched) exclude each other: keep one');

  const algorithms = options.algorithms ?? [...ASYMMETRIC_ALGORITHMS];
  if (!Array.isArray(algorithms) || algorithms.length === 0)
    fail("`algorithms` must be a non-empty array, e.g. ['RS256']");
  let wantsHmac = false;
  for (const alg of algorithms) {
    if (typeof alg !== 'string') fail('`algorithms` must contain strings');
    if (alg.toLowerCase() === 'none') fail("`algorithms` must not contain 'none': unsigned tokens are never accepted");
    if ((HMAC_ALGORITHMS as readonly string[]).includes(alg)) wantsHmac = true;
    else if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
      fail(
        `unsupported algorithm ${JSON.stringify(alg)}; ` +
          `use some of ${[...ASYMMETRIC_ALGORITHMS, ...HMAC_ALGORITHMS].join(', ')}`,
      );
    }
  }
  let secret: Uint8Array | undefined;
  if (wantsHmac) {
    if (options.secret === undefined) {
      fail(
        'HMAC algorithms (HS256/384/512) need the shared `secret` as an explicit opt-in; ' +
          'JWKS keys are never used as HMAC secrets',
      );
    }
    secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
    if (!(secret instanceof Uint8Array) || secret.byteLength < 32)
      fail('`secret` must be at least 32 bytes (RFC 7518 §3.2)');
  } else if (options.secret !== undefined) {
    fail("`secret` is only used with HMAC algorithms; add e.g. 'HS256' to `algorithms` or drop `secret`");
  }

  // A leeway is for clock skew: a large one would keep expired (and revoked-then-lapsed) tokens alive.
  const clockTolerance = durationSeconds(options.clockTolerance, 'clockTolerance', {
    default: 5,
    allowZero: true,
    max: 300,
    tooLong: 'a larger leeway would keep expired tokens alive; fix the clocks instead',
  });
  const requiredClaims = options.requiredClaims ?? ['exp'];
  if (!Array.isArray(requiredClaims) || requiredClaims.some((c) => typeof c !== 'string'))
    fail('`requiredClaims` must be an array of claim names');
  if (options.typ !== undefined && (typeof options.typ !== 'string' || options.typ === ''))
    fail("`typ` must be a string such as 'at+jwt'");

  let cache: ResolvedOptions['cache'];
  if (options.cache === false) cache = false;
  else {
    const c = options.cache === undefined ? {} : options.cache;
    if (typeof c !== 'object' || c === null) fail('`cache` must be { max, maxTtl } or false');
    rejectUnknownKeys(c, CACHE_OPTION_KEYS, factory, `${path}cache.`);
    const max = c.max ?? 10_000;
    if (!Number.isInteger(max) || max < 1)
      fail('`cache.max` must be a positive integer (entries); use `cache: false` to disable caching');
    cache = { max, maxTtlMs: durationMs(c.maxTtl, 'cache.maxTtl', { default: 600 }) };
  }

  // Bound: workerd refuses its `fetch` called as a method of another object ("Illegal invocation"),
  // and the IdP clients call it as `options.fetch(…)`.
  const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
  if (typeof fetchImpl !== 'function') fail('`fetch` must be a function (Node >= 20.19 has a global fetch)');
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') fail('`clock` must be a function returning epoch milliseconds');

  return {
    issuer: options.issuer,
    audience: [...audience],
    audienceClaim,
    jwksUri,
    staticKeys: options.jwks === undefined ? undefined : resolveStaticJwks(options.jwks, algorithms, factory, path),
    algorithms: [...algorithms],
    secret,
    clockTolerance,
    requiredClaims: [...requiredClaims],
    typ: options.typ,
    cache,
    jwksCooldownMs: durationMs(options.jwksCooldown, 'jwksCooldown', { default: 30, allowZero: true }),
    jwksMaxAgeMs: durationMs(options.jwksMaxAge, 'jwksMaxAge', { default: 600 }),
    timeoutMs: durationMs(options.timeout, 'timeout', IDP_TIMEOUT),
    allowHttp,
    fetch: fetchImpl,
    clock,
    maxTokenLength: positive(options.maxTokenLength, 16_384, 'maxTokenLength', 'characters'),
    maxTokenLifetimeMs: durationMs(options.maxTokenLifetime, 'maxTokenLifetime', { default: 86_400 }),
    maxTokenAgeMs:
      options.maxTokenAge === undefined
        ? undefined
        : durationMs(options.maxTokenAge, 'maxTokenAge', { default: 3_600 }),
    revocation: resolveRevocation(options.revocation, allowHttp, factory, path),
    introspection: resolveIntrospection(options.introspection, allowHttp, factory, path),
    store: resolveStore(options.store, clock),
    dpop: resolveDpopSettings(options.dpop, options.publicUrl, { clock, clockTolerance, factory, path }),
    statusList: resolveStatusListSettings(options.statusList, { allowHttp, factory, path }),
    log: inherited !== undefined ? inherited.log : resolveLogger(options.logger, factory, path),
  };
}

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

function resolveRevocation(
  revocation: VerifierOptions['revocation'],
  allowHttp: boolean,
  factory: string,
  path: string,
): ResolvedRevocationOptions | undefined {
  if (revocation === undefined) return undefined;
  if (typeof revocation !== 'object' || revocation === null)
    fail('`revocation` must be an object: { clientId, clientSecret, authMethod, endpoint }');
  rejectUnknownKeys(revocation, REVOCATION_OPTION_KEYS, factory, `${path}revocation.`);
  // Without these the client silently turns public (`none`) and every IdP call fails later.
  rejectUnsetValue(revocation, 'clientId', factory, `${path}revocation.`);
  rejectUnsetValue(revocation, 'clientSecret', factory, `${path}revocation.`);
  const { clientId, clientSecret } = revocation;
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === ''))
    fail('`revocation.clientId` must be a non-empty string');
  if (clientSecret !== undefined && (typeof clientSecret !== 'string' || clientSecret === ''))
    fail('`revocation.clientSecret` must be a non-empty string');
  const authMethod = revocation.authMethod ?? (clientSecret ? 'client_secret_basic' : 'none');
  if (!(AUTH_METHODS as readonly string[]).includes(authMethod))
    fail(`\`revocation.authMethod\` must be one of ${AUTH_METHODS.join(', ')}`);
  if (authMethod !== 'none' && !clientId) fail(`\`revocation.clientId\` is required for ${authMethod}`);
  if (authMethod !== 'none' && !clientSecret) {
    fail(`\`revocation.clientSecret\` is required for ${authMethod}; use authMethod: 'none' for a public client`);
  }
  if (authMethod === 'none' && clientSecret)
    fail("`revocation.clientSecret` is set but authMethod is 'none'; pick client_secret_basic or client_secret_post");
  const bodyFormat = revocation.bodyFormat ?? 'form';
  if (bodyFormat !== 'form' && bodyFormat !== 'json') fail("`revocation.bodyFormat` must be 'form' or 'json'");
  return {
    client: {
      clientId,
      clientSecret,
      authMethod,
      bodyFormat,
      timeoutMs: durationMs(revocation.timeout, 'revocation.timeout', IDP_TIMEOUT),
    },
    endpoint:
      revocation.endpoint === undefined
        ? undefined
        : parseTrustedUrl(revocation.endpoint, 'revocation.endpoint', allowHttp),
    retryForMs: durationMs(revocation.retryFor, 'revocation.retryFor', { default: 7 * 86_400 }),
    // It is a setInterval period: past 2^31 ms (24.8 days) Node would fire it every millisecond.
    retryIntervalMs: durationMs(revocation.retryInterval, 'revocation.retryInterval', { default: 5, max: 86_400 }),
    maxPending: positive(revocation.maxPending, 10_000, 'revocation.maxPending', 'items'),
  };
}

function resolveIntrospection(
  introspection: VerifierOptions['introspection'],
  allowHttp: boolean,
  factory: string,
  path: string,
): ResolvedIntrospectionOptions | undefined {
  if (introspection === undefined) return undefined;
  if (typeof introspection !== 'object' || introspection === null)
    fail('`introspection` must be an object: { clientId, clientSecret, endpoint }');
  rejectUnknownKeys(introspection, INTROSPECTION_OPTION_KEYS, factory, `${path}introspection.`);
  rejectUnsetValue(introspection, 'clientId', factory, `${path}introspection.`);
  rejectUnsetValue(introspection, 'clientSecret', factory, `${path}introspection.`);
  const { clientId, clientSecret } = introspection;
  if (typeof clientId !== 'string' || clientId === '')
    fail('`introspection.clientId` is required: introspection needs client authentication');
  if (clientSecret !== undefined && (typeof clientSecret !== 'string' || clientSecret === ''))
    fail('`introspection.clientSecret` must be a non-empty string');
  const authMethod = introspection.authMethod ?? (clientSecret ? 'client_secret_basic' : 'none');
  if (!(AUTH_METHODS as readonly string[]).includes(authMethod))
    fail(`\`introspection.authMethod\` must be one of ${AUTH_METHODS.join(', ')}`);
  if (authMethod !== 'none' && !clientSecret) fail(`\`introspection.clientSecret\` is required for ${authMethod}`);
  const mode = introspection.mode ?? 'opaque';
  if (mode !== 'opaque' && mode !== 'always') fail("`introspection.mode` must be 'opaque' or 'always'");
  return {
    client: {
      clientId,
      clientSecret,
      authMethod,
      bodyFormat: 'form',
      timeoutMs: durationMs(introspection.timeout, 'introspection.timeout', IDP_TIMEOUT),
    },
    endpoint:
      introspection.endpoint === undefined
        ? undefined
        : parseTrustedUrl(introspection.endpoint, 'introspection.endpoint', allowHttp),
    mode,
    maxAgeMs: durationMs(introspection.maxAge, 'introspection.maxAge', { default: 60 }),
    allowMissingAudience: introspection.allowMissingAudience === true,
    newTokenBudget:
      introspection.newTokenBudget === undefined
        ? 50
        : positiveInteger(introspection.newTokenBudget, 'introspection.newTokenBudget'),
    newTokenWindowMs: durationMs(introspection.newTokenWindow, 'introspection.newTokenWindow', { default: 1 }),
  };
}

function resolveStore(store: RevocationStore | undefined, clock: () => number): RevocationStore {
  if (store === undefined) return createMemoryStore({ clock });
  const methods = ['publish', 'snapshot', 'subscribe', 'close'] as const;
  if (
    typeof store !== 'object' ||
    store === null ||
    methods.some((m) => typeof store[m] !== 'function') ||
    typeof store.outbox !== 'object'
  ) {
    fail(
      '`store` must implement RevocationStore (publish, snapshot, subscribe, outbox, close), e.g. createMemoryStore()',
    );
  }
  return store;
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    fail(`\`${name}\` must be a whole number > 0`);
  return value as number;
}

/** A count (`unit`: characters, items); durations go through `durationSeconds`/`durationMs`. */
function positive(value: unknown, fallback: number, name: string, unit: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    fail(`\`${name}\` must be a number of ${unit} > 0`);
  return value as number;
}
