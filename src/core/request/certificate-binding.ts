/**
 * Certificate-bound access tokens (RFC 8705 §3): a guard with `mtls` on admits a token bound to a
 * certificate (`cnf['x5t#S256']`) only from a client that presented that certificate, so a
 * stolen token is useless without the client's private key. Runs on every request, cache hits
 * included; a request without a bound token never reads a certificate.
 *
 * Where the certificate comes from is decided once, at construction: the TLS connection
 * (`request.clientCertificate`, which the adapters fill from the socket), or, when
 * `certificateHeader` is configured, that header alone, written by a trusted TLS-terminating proxy.
 * Never both: behind such a proxy the socket's certificate, if any, is the proxy's own.
 *
 * `mtls` off (the default) reads no certificate, so it cannot check a certificate-bound token:
 * such a token is refused (`certificate_binding_unchecked`), as a DPoP-bound token sent as Bearer
 * is everywhere. RFC 8705 §3 lets a resource that does not check binding take it as a bearer token,
 * but then a stolen certificate-bound token works on every such route. A token also DPoP-bound
 * (`cnf.jkt`) and presented with its DPoP proof is constrained by that proof, and admitted.
 */
import { LRUCache } from 'lru-cache';
import { InvalidTokenError } from '../shared/errors.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import type { VerifiedToken } from '../shared/verified-token.js';
import { forwardedCertificate } from './certificate-header.js';
import { thumbprintOf } from './client-certificate.js';
import type { Presentation, RequestCheck } from './request-check.js';
import { type HeaderValue, headerOf, type RequestLike } from './request-like.js';

/**
 * How a guard checks certificate-bound tokens (`mtls: true` is `{}`: every token must be bound,
 * the certificate comes from the TLS connection).
 *
 * @example
 * ```ts
 * import { authGuard, type MtlsOptions } from 'revocable-jwt';
 * // Behind nginx terminating TLS: proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
 * const mtls: MtlsOptions = { certificateHeader: 'x-client-cert' };
 * app.get('/payments', authGuard({ verifier, mtls }), (req, res) => {
 *   res.json({ client: req.auth?.payload.client_id });
 * });
 * ```
 */
export interface MtlsOptions {
  /**
   * Take the client certificate from this request header, written by the TLS-terminating proxy in
   * front of this server, instead of from the connection: URL-encoded PEM (nginx
   * `$ssl_client_escaped_cert`, Envoy `%DOWNSTREAM_PEER_CERT%`, AWS ALB), RFC 9440 `Client-Cert`
   * (`:base64:`), or base64 DER. Off by default: the header is then ignored, whoever sends it.
   * Set it only if the proxy overwrites the header on every request and this server cannot be
   * reached except through the proxy: a certificate is public, so a client that can set the
   * header can claim anyone's.
   */
  certificateHeader?: string;
  /**
   * Whether every token must be sender-constrained (default `true`): a bearer token without
   * `cnf['x5t#S256']` is refused (401 `invalid_token`). `false` checks bound tokens and admits
   * unbound ones, e.g. while clients move to mTLS. A token presented under the DPoP scheme is left
   * to the DPoP check, which binds it to its proof key.
   */
  required?: boolean;
}

/**
 * The `mtls` setting of a guard as it applies: `undefined` when off.
 *
 * @example
 * ```ts
 * import { createAuthenticator } from 'revocable-jwt';
 * const authenticate = createAuthenticator({ verifier, mtls: true });
 * authenticate.mtls; // { required: true, certificateHeader: undefined }
 * ```
 */
export interface MtlsSettings {
  /** Unbound tokens are refused. */
  readonly required: boolean;
  /** The trusted proxy's header (lower-case) the certificate is read from; `undefined`: the connection. */
  readonly certificateHeader: string | undefined;
}

const MTLS_KEYS = optionKeys<MtlsOptions>({ certificateHeader: true, required: true });
/** An RFC 9110 §5.1 field name. */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The `mtls` option, checked: `undefined` when off. */
export function mtlsSettings(option: unknown, factory: string): MtlsSettings | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return Object.freeze({ required: true, certificateHeader: undefined });
  if (typeof option !== 'object' || option === null || Array.isArray(option)) {
    throw new TypeError(
      `revocable-jwt: \`mtls\` must be true, false or { certificateHeader?, required? } in ${factory}`,
    );
  }
  rejectUnknownKeys(option, MTLS_KEYS, factory, 'mtls.');
  const { certificateHeader, required = true } = option as MtlsOptions;
  if (typeof required !== 'boolean') {
    throw new TypeError(`revocable-jwt: \`mtls.required\` must be true or false in ${factory}`);
  }
  if (
    certificateHeader !== undefined &&
    (typeof certificateHeader !== 'string' || !FIELD_NAME.test(certificateHeader))
  ) {
    throw new TypeError(
      `revocable-jwt: \`mtls.certificateHeader\` must be a header name, e.g. 'x-client-cert', in ${factory}`,
    );
  }
  return Object.freeze({ required, certificateHeader: certificateHeader?.toLowerCase() });
}

/** The check of a guard with `mtls` on, or the refusal of bound tokens with it off: see the file's comment. */
export function certificateBinding(settings: MtlsSettings | undefined): RequestCheck {
  if (settings === undefined) return refuseUncheckedBinding;
  const { required, certificateHeader } = settings;
  const thumbprintOfRequest =
    certificateHeader === undefined
      ? (request: RequestLike) => {
          const { clientCertificate } = request;
          return clientCertificate === undefined ? undefined : thumbprintOf(clientCertificate);
        }
      : proxiedThumbprint(certificateHeader);

  return (auth: VerifiedToken, presented: Presentation) => {
    const bound = boundThumbprint(auth);
    if (bound === undefined) {
      if (required && presented.scheme !== 'DPoP') throw new InvalidTokenError('token_not_bound');
      return;
    }
    const thumbprint = thumbprintOfRequest(presented.request);
    if (thumbprint === undefined) throw new InvalidTokenError('certificate_required');
    if (thumbprint === null) throw new InvalidTokenError('certificate_unreadable');
    if (thumbprint !== bound) throw new InvalidTokenError('certificate_mismatch');
  };
}

/**
 * `mtls` off: a token carrying `cnf['x5t#S256']` is refused, unless it came under the DPoP scheme
 * (the DPoP check, run first, admitted only a DPoP-bound token with its proof). Whatever else `cnf`
 * holds is not this check's business: no certificate is read, no thumbprint compared.
 */
const refuseUncheckedBinding: RequestCheck = (auth, presented) => {
  if (presented.scheme === 'DPoP') return;
  const { cnf } = auth.payload as { cnf?: unknown };
  if (typeof cnf === 'object' && cnf !== null && (cnf as Record<string, unknown>)['x5t#S256'] !== undefined)
    throw new InvalidTokenError('certificate_binding_unchecked');
};

/**
 * The thumbprint of the certificate in a trusted proxy's header. A header value is a fresh string
 * per request, to be decoded and hashed (~8 µs, bench/mtls-check.ts) unless seen lately: the
 * thumbprints of the last 256 values are kept (~1 µs a look-up; a value always gives the same one).
 */
function proxiedThumbprint(header: string): (request: RequestLike) => string | null | undefined {
  const seen = new LRUCache<string, string | false>({ max: 256 });
  const read = (value: HeaderValue): string | null | undefined => {
    const der = forwardedCertificate(value);
    return der == null ? der : thumbprintOf(der);
  };
  return (request) => {
    const value = headerOf(request.headers, header);
    if (typeof value !== 'string') return read(value); // absent, or sent twice
    const known = seen.get(value);
    if (known !== undefined) return known === false ? null : known;
    const thumbprint = read(value);
    if (thumbprint !== undefined) seen.set(value, thumbprint ?? false);
    return thumbprint;
  };
}

/** The token's `cnf['x5t#S256']`; `undefined` when it has none. A malformed `cnf` is refused. */
function boundThumbprint(auth: VerifiedToken): string | undefined {
  const { cnf } = auth.payload as { cnf?: unknown };
  if (cnf === undefined) return undefined;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) throw invalidConfirmation();
  const thumbprint = (cnf as Record<string, unknown>)['x5t#S256'];
  if (thumbprint === undefined || typeof thumbprint === 'string') return thumbprint;
  throw invalidConfirmation();
}

const invalidConfirmation = () =>
  new InvalidTokenError('claim_invalid', 'The access token has an invalid confirmation (cnf) claim');
