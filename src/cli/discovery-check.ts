/**
 * Discovery, as the verifier does it (the library's own metadata source: the same URLs, the same
 * exact issuer comparison), and when it fails, why: which issuer the IdP names instead (a trailing
 * slash, letter case, another path or host), or what answered in place of a JSON document.
 */
import { createMetadataSource, type IssuerMetadata, metadataUrls } from '../core/idp/discovery.js';
import { fetchJson, HttpRequestError } from '../core/idp/http-client.js';
import { IdpUnavailableError, MisconfiguredError } from '../core/shared/errors.js';
import type { DoctorContext } from './doctor-context.js';
import { type Check, check, plainMessage } from './report.js';

const MAX_METADATA_BYTES = 256 * 1024;

export interface DiscoveryOutcome {
  check: Check;
  /** The metadata, when it is usable (issuer matched). */
  metadata: IssuerMetadata | undefined;
}

export async function checkDiscovery(context: DoctorContext): Promise<DiscoveryOutcome> {
  const { issuer, http, timeoutMs, clock, signal } = context;
  const urls = metadataUrls(issuer);
  const source = createMetadataSource({ issuer, fetch: http.fetch, timeoutMs, now: clock, signal });
  try {
    const metadata = await source.get();
    const servedBy = urls.find((url) => http.last(url)?.status === 200) ?? urls[0]!;
    return {
      metadata,
      check: check('discovery', 'ok', `metadata at ${servedBy}; its issuer is exactly ${JSON.stringify(issuer)}`, [], {
        url: servedBy,
      }),
    };
  } catch (error) {
    if (error instanceof MisconfiguredError) {
      return { metadata: undefined, check: await misconfigured(context, urls, error) };
    }
    const cause = error instanceof IdpUnavailableError ? error.cause : error;
    return {
      metadata: undefined,
      check: check('discovery', 'fail', `the discovery document could not be fetched: ${plainMessage(cause)}`, [
        ...unreachableHints(context, cause),
        `tried ${urls.join(' and ')}`,
      ]),
    };
  }
}

/** The IdP answered, but not with metadata for our issuer: say what it names instead. */
async function misconfigured(context: DoctorContext, urls: string[], error: MisconfiguredError): Promise<Check> {
  const advertised = await advertisedIssuer(context, urls);
  if (advertised === undefined) {
    return check('discovery', 'fail', 'no discovery document for this issuer', [
      plainMessage(error),
      `tried ${urls.join(' and ')} (both answered 4xx)`,
      'the issuer is most likely wrong: copy it from the IdP (see docs/idp-setup.md for the exact value per IdP)',
    ]);
  }
  return check(
    'discovery',
    'fail',
    `issuer mismatch: the IdP's metadata names ${JSON.stringify(advertised.issuer)}`,
    [
      explainIssuerDifference(context.issuer, advertised.issuer),
      `metadata at ${advertised.url}`,
      "`issuer` must equal the metadata's issuer and every token's `iss` exactly (RFC 8414 §3.3, RFC 9068 §4)",
    ],
    { advertisedIssuer: advertised.issuer, url: advertised.url },
  );
}

/** The `issuer` of the first metadata document found at `urls` (a second look, only after a mismatch). */
async function advertisedIssuer(
  context: DoctorContext,
  urls: string[],
): Promise<{ issuer: string; url: string } | undefined> {
  for (const url of urls) {
    try {
      const body = await fetchJson(url, {
        fetch: context.http.fetch,
        timeoutMs: context.timeoutMs,
        maxBytes: MAX_METADATA_BYTES,
        signal: context.signal,
      });
      return { issuer: typeof body.issuer === 'string' ? body.issuer : JSON.stringify(body.issuer ?? null), url };
    } catch {
      // Not there either: try the other well-known location.
    }
  }
  return undefined;
}

/** One sentence on how `configured` and `advertised` differ, and what to set. */
export function explainIssuerDifference(configured: string, advertised: string): string {
  const use = `use exactly ${JSON.stringify(advertised)}`;
  if (advertised === `${configured}/`) return `the IdP's issuer ends with a slash and yours does not: ${use}`;
  if (configured === `${advertised}/`) return `yours ends with a slash and the IdP's issuer does not: ${use}`;
  if (configured.toLowerCase() === advertised.toLowerCase()) return `the two differ in letter case only: ${use}`;
  let ours: URL;
  let theirs: URL;
  try {
    ours = new URL(configured);
    theirs = new URL(advertised);
  } catch {
    return `the IdP names an issuer that is not a URL; if it is really your IdP, ${use}`;
  }
  if (ours.host !== theirs.host) {
    return (
      `the IdP names another host (${theirs.host}): if this really is your IdP (a custom domain, say), ${use}; ` +
      "otherwise the URL points at someone else's metadata"
    );
  }
  if (ours.protocol !== theirs.protocol) return `the scheme differs (${ours.protocol} vs ${theirs.protocol}): ${use}`;
  return `the path differs (${ours.pathname} vs ${theirs.pathname}: a tenant, realm or version segment?): ${use}`;
}

/** What an unreachable or unusable answer most likely means. */
export function unreachableHints(context: DoctorContext, error: unknown): string[] {
  if (!(error instanceof HttpRequestError)) return [];
  switch (error.kind) {
    case 'timeout':
      return [`no answer within ${context.timeoutMs / 1000} s (--timeout raises it; the verifier's \`timeout\` too)`];
    case 'network':
      return ['no connection: check the host name, port, DNS, a firewall or an outbound proxy'];
    case 'redirect': {
      const location = context.http.exchanges.findLast((e) => e.location !== null)?.location;
      return [
        `the library never follows redirects${location ? ` (this one goes to ${location})` : ''}: ` +
          'configure the final URL',
      ];
    }
    case 'invalid_body': {
      const type = context.http.exchanges.at(-1)?.contentType ?? 'no Content-Type';
      return /html/i.test(type)
        ? [`the answer is an HTML page (${type}), not JSON: a login page, a proxy or a wrong path`]
        : [`the answer is not a JSON object (${type})`];
    }
    case 'status':
      return error.status !== undefined && error.status >= 500
        ? [`the IdP answered ${error.status}: it is failing; try again later`]
        : [];
    default:
      return [];
  }
}
