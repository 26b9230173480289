/**
 * The verifier's DPoP settings (RFC 9449): which proof algorithms it accepts, how old a proof may
 * be, the secret of its stateless server nonces, and the public URL a proof's `htu` is compared
 * with. Checked once, at construction; the request step (core/request/dpop-*.ts) applies them.
 */
import { durationMs } from '../shared/duration-option.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';

/**
 * DPoP proof settings of `createVerifier({ dpop })` (RFC 9449). Which routes accept or require
 * DPoP is the guard's `dpop` option; the verifier says how proofs are checked.
 *
 * @example
 * ```ts
 * import { createVerifier, type DpopOptions } from 'revocable-jwt';
 * const dpop: DpopOptions = {
 *   algorithms: ['ES256', 'EdDSA'],
 *   iatWindow: 120, // seconds
 *   nonce: { secret: process.env.DPOP_NONCE_SECRET! }, // the same secret on every instance
 * };
 * const verifier = createVerifier({
 *   issuer: 'https://idp.example.com/',
 *   audience: 'https://api.example.com',
 *   publicUrl: 'https://api.example.com', // what a proof's `htu` is compared with
 *   dpop,
 * });
 * ```
 */
export interface DpopOptions {
  /**
   * Proof signing algorithms accepted (asymmetric only). Default: RS/PS/ES 256-512, EdDSA,
   * Ed25519. Also the `algs` of the `DPoP` challenge.
   */
  algorithms?: string[];
  /**
   * How old a proof's `iat` may be, in seconds (and it may be up to `clockTolerance` ahead).
   * Default 300, at most 3600. With server nonces, also the nonce period: a nonce is accepted
   * for one to two periods.
   */
  iatWindow?: number;
  /**
   * Stateless server nonces (RFC 9449 §9): an HMAC of the current period under `secret` (a string
   * or bytes, at least 32 bytes; the same on every instance, so each accepts the others' nonces).
   * Proofs must then carry a current nonce instead of a recent `iat`. Default `false`.
   */
  nonce?: { secret: string | Uint8Array } | false;
}

/** The keys `dpop` accepts (any other is refused): one line per option. */
export const DPOP_OPTION_KEYS = optionKeys<DpopOptions>({ algorithms: true, iatWindow: true, nonce: true });
const NONCE_OPTION_KEYS = optionKeys<{ secret: unknown }>({ secret: true });

/** The asymmetric JWS algorithms a DPoP proof may use (RFC 9449 §4.2: never `none`, never a MAC). */
export const DPOP_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
] as const;

/** How one issuer's verifier checks DPoP proofs, resolved (milliseconds, bytes). */
export interface DpopSettings {
  readonly algorithms: readonly string[];
  /** How old a proof's `iat` may be (also the nonce period). */
  readonly iatWindowMs: number;
  /** How far ahead a proof's `iat` may be: the verifier's `clockTolerance`. */
  readonly clockToleranceMs: number;
  /** The nonce secret's bytes, or undefined without server nonces. */
  readonly nonceSecret: Uint8Array | undefined;
  /** `publicUrl`, serialized without a trailing slash (`https://api.example.com/v1`), if configured. */
  readonly publicUrl: string | undefined;
  /** The verifier's clock (epoch ms). */
  readonly clock: () => number;
}

const fail = (message: string): never => {
  throw new TypeError(`revocable-jwt: ${message}`);
};

/** Checks `dpop` and `publicUrl` of one issuer's options; `path` prefixes nested names (`issuers[1].`). */
export function resolveDpopSettings(
  dpop: unknown,
  publicUrl: unknown,
  context: { clock: () => number; clockTolerance: number; factory: string; path: string },
): DpopSettings {
  const { factory, path } = context;
  const options = (dpop ?? {}) as DpopOptions;
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    fail(`\`${path}dpop\` must be an object: { algorithms, iatWindow, nonce }`);
  rejectUnknownKeys(options, DPOP_OPTION_KEYS, factory, `${path}dpop.`);
  const algorithms = options.algorithms ?? [...DPOP_ALGORITHMS];
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    algorithms.some((alg) => !(DPOP_ALGORITHMS as readonly unknown[]).includes(alg))
  ) {
    fail(
      `\`${path}dpop.algorithms\` must be a non-empty array of asymmetric algorithms ` +
        `(${DPOP_ALGORITHMS.join(', ')}); RFC 9449 allows neither \`none\` nor HMAC proofs`,
    );
  }
  const iatWindowMs = durationMs(options.iatWindow, `${path}dpop.iatWindow`, {
    default: 300,
    max: 3600,
  });
  return Object.freeze({
    algorithms: Object.freeze([...algorithms]),
    iatWindowMs,
    clockToleranceMs: Math.round(context.clockTolerance * 1000),
    nonceSecret: resolveNonce(options.nonce, factory, path),
    publicUrl: publicUrl === undefined ? undefined : resolvePublicUrl(publicUrl, path),
    clock: context.clock,
  });
}

function resolveNonce(nonce: DpopOptions['nonce'], factory: string, path: string): Uint8Array | undefined {
  if (nonce === undefined || nonce === false) return undefined;
  if (typeof nonce !== 'object' || nonce === null) fail(`\`${path}dpop.nonce\` must be { secret } or false`);
  rejectUnknownKeys(nonce, NONCE_OPTION_KEYS, factory, `${path}dpop.nonce.`);
  const { secret } = nonce;
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < 32) {
    fail(
      `\`${path}dpop.nonce.secret\` must be a string or bytes of at least 32 bytes, the same on every instance ` +
        '(is the environment variable that should hold it unset?)',
    );
  }
  return bytes;
}

const PUBLIC_URL_EXAMPLE = "e.g. 'https://api.example.com' or 'https://example.com/api'";

/**
 * `publicUrl`: the absolute URL clients reach this API at (scheme, host, optional port and base
 * path), as they write it in a proof's `htu`. Never read from the request (`Host`,
 * `X-Forwarded-*`), which a client or proxy chooses.
 */
function resolvePublicUrl(value: unknown, path: string): string {
  const wrong = (why: string): never =>
    fail(`\`${path}publicUrl\` must be the URL clients reach this API at, ${PUBLIC_URL_EXAMPLE}: ${why}`);
  if (typeof value !== 'string' || value === '') return wrong(`got ${value === '' ? 'an empty string' : typeof value}`);
  if (!URL.canParse(value)) return wrong(`'${value}' is not an absolute URL (is the scheme missing?)`);
  const url = new URL(value);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    wrong(`the scheme must be https (or http), not ${url.protocol.slice(0, -1)}`);
  if (url.username !== '' || url.password !== '') wrong('remove the user name and password');
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(value)) wrong('drop the query and fragment');
  return url.origin + url.pathname.replace(/\/+$/, '');
}
