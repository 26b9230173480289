/**
 * The one place we talk HTTP to the IdP (discovery, JWKS, later revocation). Built on the
 * platform `fetch` (injectable), adding what a resource server needs against a server it does
 * not control: a hard timeout, a body size cap, no silent redirects, and failures classified so
 * callers can tell "IdP down" from "IdP said no".
 */
import { RevocableJwtError } from '../shared/revocable-jwt-error.js';

/**
 * The `fetch` the library calls for every request to the IdP (discovery, JWKS, revocation,
 * introspection): the global `fetch`, or one you pass as the `fetch` option — to add a proxy,
 * tracing or a test double. We always pass `redirect: 'manual'` and an abort `signal` (timeout and
 * `close()`); a function that ignores them loses the redirect refusal and the timeout.
 *
 * @example
 * ```ts
 * import { createVerifier, type FetchLike } from 'revocable-jwt';
 * const tracedFetch: FetchLike = async (input, init) => {
 *   const started = performance.now();
 *   try {
 *     return await fetch(input, init);
 *   } finally {
 *     log.debug({ url: String(input), ms: performance.now() - started }, 'IdP request');
 *   }
 * };
 * const traced = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', fetch: tracedFetch });
 * ```
 */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * How a request to the IdP failed: `network` (no connection), `timeout`, `status` (a non-2xx
 * answer), `redirect` (never followed: configure the final URL), `too_large` (over the body cap),
 * `invalid_body` (not the JSON expected), `aborted` (cancelled, e.g. by `verifier.close()`).
 *
 * @example
 * ```ts
 * import { HttpRequestError, type HttpFailureKind } from 'revocable-jwt';
 * const outcome = await verifier.revoke(token);
 * const cause = outcome.error?.cause;
 * const kind: HttpFailureKind | undefined = cause instanceof HttpRequestError ? cause.kind : undefined;
 * if (kind === 'timeout') log.warn({ idp: outcome.idp }, 'the revocation endpoint did not answer in time');
 * ```
 */
export type HttpFailureKind = 'network' | 'timeout' | 'status' | 'redirect' | 'too_large' | 'invalid_body' | 'aborted';

/** What a failed request to the IdP defaults to saying, per kind. */
const DEFAULT_MESSAGES: Record<HttpFailureKind, string> = {
  network: 'the IdP could not be reached',
  timeout: 'the IdP did not answer in time',
  status: 'the IdP answered with an error status',
  redirect: 'the IdP answered with a redirect, which is not followed',
  too_large: 'the IdP sent a body larger than the limit',
  invalid_body: 'the IdP sent a body that could not be used',
  aborted: 'the request to the IdP was cancelled',
};

/**
 * Why a request to the IdP did not produce a usable answer. `message` names the endpoint (origin
 * and path only, never a query string) and never contains tokens. `reason` is `http_` + `kind`;
 * `status` is the status the IdP answered with (not one to answer a client with), when it
 * answered at all. You meet it as the `cause` of an `IdpUnavailableError` or a `RevocationError`.
 *
 * @example
 * ```ts
 * import { HttpRequestError } from 'revocable-jwt';
 * const outcome = await verifier.revoke(token);
 * if (outcome.idp === 'queued' && outcome.error?.cause instanceof HttpRequestError) {
 *   const { kind, status, transient } = outcome.error.cause;
 *   log.warn({ kind, status, transient }, 'revocation endpoint unreachable; retrying from the outbox');
 * }
 * ```
 */
export class HttpRequestError extends RevocableJwtError {
  declare readonly reason: `http_${HttpFailureKind}`;
  /** How the request failed; `reason` is `http_` + this. */
  readonly kind: HttpFailureKind;
  /** The HTTP status the IdP answered with; undefined when no answer came (network, timeout, aborted). */
  readonly status: number | undefined;
  /** Seconds, from a `Retry-After` response header when the server sent one. */
  readonly retryAfter: number | undefined;
  /** The answer's body, when the code that failed kept it. The library keeps none (a body may echo a token). */
  readonly body: unknown;
  constructor(
    kind: HttpFailureKind,
    message: string = DEFAULT_MESSAGES[kind],
    details: { status?: number; retryAfter?: number; body?: unknown; cause?: unknown } = {},
  ) {
    super(`http_${kind}`, message, { cause: details.cause });
    this.kind = kind;
    this.status = details.status;
    this.retryAfter = details.retryAfter;
    this.body = details.body;
  }
  /** True when the failure says nothing about the request's validity: try again later. */
  get transient(): boolean {
    return this.kind !== 'status' || this.status === undefined || this.status >= 500 || this.status === 429;
  }
}

export interface HttpRequestOptions {
  fetch: FetchLike;
  /** Each request, in ms. */
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal | undefined;
  init?: RequestInit;
}

/**
 * An HTTP answer read whole (the body bounded): what `processRevocationResponse` interprets. Build
 * one from a `fetch` `Response` when you send the request yourself.
 *
 * @example
 * ```ts
 * import { processRevocationResponse } from 'revocable-jwt';
 * declare const response: Response; // from fetch(revocationEndpoint, buildRevocationRequest(…))
 * const answer = { status: response.status, headers: response.headers, text: await response.text() };
 * const result = processRevocationResponse(answer, token); // 'revoked' | 'not_revocable', or throws
 * ```
 */
export interface HttpResult {
  /** The HTTP status code. */
  status: number;
  /** The response headers (`Retry-After` is read from them). */
  headers: Headers;
  /** The body as text ('' when there was none). */
  text: string;
}

/** Sends one request and reads the whole (bounded) body. Non-2xx answers are returned, not thrown. */
export async function sendRequest(url: string | URL, options: HttpRequestOptions): Promise<HttpResult> {
  const timeoutSignal = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeoutSignal]) : timeoutSignal;
  const target = describeUrl(url);
  let response: Response;
  try {
    response = await options.fetch(url, { ...options.init, signal, redirect: 'manual' });
  } catch (cause) {
    throw classifyAbort(cause, timeoutSignal, options.signal, target, options.timeoutMs);
  }
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel().catch(() => undefined);
    throw new HttpRequestError(
      'redirect',
      `${target} answered with a redirect (${response.status}); configure the final URL instead`,
      {
        status: response.status,
      },
    );
  }
  let text: string;
  try {
    text = await readBounded(response, options.maxBytes, target);
  } catch (cause) {
    if (cause instanceof HttpRequestError) throw cause;
    throw classifyAbort(cause, timeoutSignal, options.signal, target, options.timeoutMs);
  }
  return { status: response.status, headers: response.headers, text };
}

/**
 * GETs a JSON document; anything but a 2xx JSON object is an {@link HttpRequestError}. A GET whose
 * connection was closed under it (a kept-alive connection the IdP had just timed out: reset, or
 * closed before answering) is sent once more at once: the request is idempotent, and the next
 * attempt gets a fresh connection. Without this, an IdP's ordinary keep-alive expiry became a 503
 * and a fetch backoff.
 */
export async function fetchJson(url: string | URL, options: HttpRequestOptions): Promise<Record<string, unknown>> {
  const get = { ...options, init: { method: 'GET', headers: { accept: 'application/json' } } };
  let result: HttpResult;
  try {
    result = await sendRequest(url, get);
  } catch (error) {
    if (!(error instanceof HttpRequestError && error.kind === 'network' && closedUnderUs(error.cause))) throw error;
    result = await sendRequest(url, get);
  }
  const target = describeUrl(url);
  if (result.status < 200 || result.status >= 300) {
    throw new HttpRequestError('status', `${target} answered ${result.status}`, {
      status: result.status,
      retryAfter: parseRetryAfter(result.headers.get('retry-after')),
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(result.text);
  } catch (cause) {
    throw new HttpRequestError('invalid_body', `${target} did not answer with JSON`, { status: result.status, cause });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpRequestError('invalid_body', `${target} did not answer with a JSON object`, {
      status: result.status,
    });
  }
  return body as Record<string, unknown>;
}

/** `Retry-After` as seconds (delta-seconds or HTTP-date), or undefined when absent or unusable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

async function readBounded(response: Response, maxBytes: number, target: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new HttpRequestError('too_large', `${target} sent ${declared} bytes, more than the ${maxBytes}-byte limit`, {
      status: response.status,
    });
  }
  if (!response.body) return '';
  // ignoreBOM: a BOM stays in the text, so a JSON body that starts with one is refused as before.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let text = '';
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new HttpRequestError('too_large', `${target} sent more than the ${maxBytes}-byte limit`, {
        status: response.status,
      });
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

function classifyAbort(
  cause: unknown,
  timeoutSignal: AbortSignal,
  callerSignal: AbortSignal | undefined,
  target: string,
  timeoutMs: number,
): HttpRequestError {
  if (timeoutSignal.aborted)
    return new HttpRequestError('timeout', `${target} did not answer within ${timeoutMs} ms`, { cause });
  if (callerSignal?.aborted) return new HttpRequestError('aborted', `request to ${target} was cancelled`, { cause });
  return new HttpRequestError('network', `could not reach ${target}`, { cause });
}

/** Origin and path only: never echo query strings (they may carry credentials) into messages. */
function describeUrl(url: string | URL): string {
  try {
    const parsed = new URL(String(url));
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return 'the IdP';
  }
}

/** Socket errors that mean the connection was closed under the request, not that the host is down. */
const CLOSED_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * Whether a fetch failure is a connection closed under the request (undici's `UND_ERR_SOCKET`
 * "other side closed", `ECONNRESET`, `EPIPE`), looked for along the `cause` chain (a few links:
 * fetch wraps its errors).
 */
function closedUnderUs(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && CLOSED_CONNECTION_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
