/**
 * The verifier's Token Status List settings (draft-ietf-oauth-status-list): whether tokens that
 * reference a status list are checked against it (and whether tokens must reference one), where
 * lists may be fetched from, how long one is trusted, and the size caps. Checked once, at
 * construction; core/verify/status-list-check.ts applies them.
 */
import { durationMs } from '../shared/duration-option.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import { parseTrustedUrl } from '../idp/url-policy.js';

/**
 * Token Status List settings of `createVerifier({ statusList })` (IETF draft-ietf-oauth-status-list):
 * an access token carrying `status: { status_list: { idx, uri } }` is refused when the issuer's
 * Status List Token at `uri` gives entry `idx` any status but VALID (0x00). The list must be a JWT
 * (`typ: statuslist+jwt`) signed with the issuer's own keys, whose `sub` is `uri`; it is cached
 * for its `ttl` (within `minTtl`..`maxTtl`, never past its `exp`) and refreshed in the background.
 * Lists are fetched only from the issuer's origin, the JWKS's origin and `allowedOrigins`.
 *
 * @example
 * ```ts
 * import { createVerifier, type StatusListOptions } from 'revocable-jwt';
 * const statusList: StatusListOptions = {
 *   mode: 'required', // every token must reference a status list
 *   allowedOrigins: ['https://status.example.com'], // the IdP publishes its lists there
 *   maxTtl: 120, // refetch at least every 2 minutes, whatever the list's ttl says
 *   staleIfError: 600, // keep using a list up to 10 minutes past due while the IdP is down
 * };
 * const verifier = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', statusList });
 * ```
 */
export interface StatusListOptions {
  /**
   * `when-present` (default): tokens that reference a status list are checked against it, others
   * are accepted as before. `required`: a JWT without `status.status_list` is refused (401
   * `claim_missing`). `off`: the `status` claim is ignored.
   */
  mode?: 'when-present' | 'required' | 'off';
  /**
   * Origins status lists may also be fetched from (`'https://status.example.com'`), besides the
   * issuer's origin and the JWKS's. A token naming a list anywhere else is a 500
   * `MisconfiguredError` (and the `misconfigured` event, source `status-list`): nothing is fetched.
   */
  allowedOrigins?: string[];
  /** Longest a list is used before it is fetched again, in seconds, whatever its `ttl`. Default 300. */
  maxTtl?: number;
  /** Shortest time a list is used before it is fetched again, in seconds, however small its `ttl`. Default 10. */
  minTtl?: number;
  /**
   * How long before a list is due it is fetched again in the background, in seconds (at most half
   * the time it is used for), so requests never wait for it. Default 30.
   */
  refreshAhead?: number;
  /**
   * How long past due a list keeps being used while a fresh one cannot be had (the IdP down, or
   * serving a list we refuse), in seconds; never past the list's `exp`. Then tokens that reference
   * it get 503 with `Retry-After`. Default 300; 0 refuses as soon as a list is due.
   */
  staleIfError?: number;
  /** Largest Status List Token accepted (the HTTP body), in bytes. Default 2 097 152 (2 MiB). */
  maxTokenBytes?: number;
  /**
   * Largest status array accepted once inflated, in bytes (1 bit per token: 8 tokens per byte);
   * inflating stops as soon as it is passed. Default 4 194 304 (4 MiB: 33 million 1-bit entries).
   */
  maxListBytes?: number;
  /** Most lists kept at once (least recently used dropped first). Default 16. */
  maxLists?: number;
}

/** The keys `statusList` accepts (any other is refused): one line per option. */
export const STATUS_LIST_OPTION_KEYS = optionKeys<StatusListOptions>({
  mode: true,
  allowedOrigins: true,
  maxTtl: true,
  minTtl: true,
  refreshAhead: true,
  staleIfError: true,
  maxTokenBytes: true,
  maxListBytes: true,
  maxLists: true,
});

/** One issuer's status list settings, resolved (milliseconds, origins); undefined when `mode: 'off'`. */
export interface StatusListSettings {
  readonly required: boolean;
  /** `allowedOrigins`, serialized (`https://status.example.com`). */
  readonly allowedOrigins: ReadonlySet<string>;
  readonly maxTtlMs: number;
  readonly minTtlMs: number;
  readonly refreshAheadMs: number;
  readonly staleIfErrorMs: number;
  readonly maxTokenBytes: number;
  readonly maxListBytes: number;
  readonly maxLists: number;
}

const fail = (message: string): never => {
  throw new TypeError(`revocable-jwt: ${message}`);
};

const MODES = ['when-present', 'required', 'off'] as const;

/** Checks `statusList` of one issuer's options; `path` prefixes nested names (`issuers[1].`). */
export function resolveStatusListSettings(
  value: unknown,
  context: { allowHttp: boolean; factory: string; path: string },
): StatusListSettings | undefined {
  const { factory, path } = context;
  const name = (key: string) => `${path}statusList.${key}`;
  const options = (value ?? {}) as StatusListOptions;
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    fail(`\`${path}statusList\` must be an object: { mode, allowedOrigins, maxTtl, staleIfError, ... }`);
  rejectUnknownKeys(options, STATUS_LIST_OPTION_KEYS, factory, `${path}statusList.`);
  const mode = options.mode ?? 'when-present';
  if (!(MODES as readonly unknown[]).includes(mode)) fail(`\`${name('mode')}\` must be one of ${MODES.join(', ')}`);
  const allowedOrigins = resolveOrigins(options.allowedOrigins, name('allowedOrigins'), context.allowHttp);
  const maxTtlMs = durationMs(options.maxTtl, name('maxTtl'), { default: 300 });
  const minTtlMs = durationMs(options.minTtl, name('minTtl'), { default: 10 });
  if (minTtlMs > maxTtlMs) fail(`\`${name('minTtl')}\` must not exceed \`${name('maxTtl')}\``);
  const settings: StatusListSettings = {
    required: mode === 'required',
    allowedOrigins,
    maxTtlMs,
    minTtlMs,
    refreshAheadMs: durationMs(options.refreshAhead, name('refreshAhead'), { default: 30, allowZero: true }),
    staleIfErrorMs: durationMs(options.staleIfError, name('staleIfError'), { default: 300, allowZero: true }),
    maxTokenBytes: count(options.maxTokenBytes, 2 * 1024 * 1024, name('maxTokenBytes'), 'bytes'),
    maxListBytes: count(options.maxListBytes, 4 * 1024 * 1024, name('maxListBytes'), 'bytes'),
    maxLists: count(options.maxLists, 16, name('maxLists'), 'lists'),
  };
  return mode === 'off' ? undefined : Object.freeze(settings);
}

function resolveOrigins(value: unknown, name: string, allowHttp: boolean): ReadonlySet<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) fail(`\`${name}\` must be an array of origins, e.g. ['https://status.example.com']`);
  const origins = new Set<string>();
  for (const entry of value as unknown[]) {
    const url = parseTrustedUrl(entry, name, allowHttp);
    // An origin, nothing more: a path here would suggest a narrower allowance than we enforce.
    if (`${url.origin}/` !== url.href && url.origin !== String(entry))
      fail(`\`${name}\` takes origins only (scheme, host, port), e.g. '${url.origin}', not ${JSON.stringify(entry)}`);
    origins.add(url.origin);
  }
  return origins;
}

function count(value: unknown, fallback: number, name: string, unit: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    fail(`\`${name}\` must be a whole number of ${unit} > 0, e.g. ${fallback}`);
  return value as number;
}
