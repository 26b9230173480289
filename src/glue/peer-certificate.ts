/**
 * The client certificate of a TLS connection, for a guard with `mtls` on: the DER bytes Node's
 * `TLSSocket` holds (`node:https` with `requestCert: true`), reached from each framework's request
 * (Express `req.socket`, Fastify `request.raw.socket`, Koa `ctx.req.socket`, Hono on
 * `@hono/node-server` `c.env.incoming.socket`). Typed by shape, not imported: no `node:*` module,
 * so the Hono adapter stays Web-standard and simply finds no socket elsewhere.
 *
 * On TLS 1.3 a connection's certificate cannot change (no renegotiation; Node has no post-handshake
 * authentication), so it is read once per connection and the same bytes handed to every request:
 * the core then hashes it once per connection too. Older protocols are read on every request.
 */
import type { Authenticator } from '../core/request/authenticator.js';
import type { ClientCertificate } from '../core/request/request-like.js';

/** What this glue uses of a Node `TLSSocket`. */
interface TlsSocketLike {
  getPeerX509Certificate(): { readonly raw: Uint8Array } | undefined;
  getProtocol(): string | null;
}

const NONE = Symbol('no certificate');
const perConnection = new WeakMap<object, Uint8Array | typeof NONE>();

/**
 * The DER bytes of the certificate the client presented on `socket`: `undefined` for a plain TCP
 * socket, a TLS connection without a client certificate, or anything else.
 */
export function peerCertificateOf(socket: unknown): ClientCertificate | undefined {
  if (typeof socket !== 'object' || socket === null) return undefined;
  const known = perConnection.get(socket);
  if (known !== undefined) return known === NONE ? undefined : known;
  const tls = socket as Partial<TlsSocketLike>;
  if (typeof tls.getPeerX509Certificate !== 'function') return undefined;
  const der = tls.getPeerX509Certificate()?.raw;
  if (tls.getProtocol?.() === 'TLSv1.3') perConnection.set(socket, der ?? NONE);
  return der;
}

/**
 * Whether a guard reads the client certificate of the connection: `mtls` on, and no trusted
 * proxy's header to read it from instead (then the socket's certificate, if any, is the proxy's).
 */
export function readsPeerCertificate(authenticate: Pick<Authenticator, 'mtls'>): boolean {
  return authenticate.mtls !== undefined && authenticate.mtls.certificateHeader === undefined;
}
