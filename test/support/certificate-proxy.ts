/**
 * A TLS-terminating reverse proxy, as nginx with `proxy_set_header X-Client-Cert
 * $ssl_client_escaped_cert` is one: it asks for a client certificate, forwards each request to
 * an HTTP upstream, and writes the certificate it saw (URL-encoded PEM) into the header,
 * overwriting whatever the client sent there (an empty header when it saw none, as nginx does).
 */
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TestCertificate } from './certificates.js';

export interface CertificateProxy {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startCertificateProxy(options: {
  /** The proxy's own TLS server certificate. */
  server: TestCertificate;
  /** Where requests go, e.g. `http://127.0.0.1:3000`. */
  upstream: string;
  /** The header the proxy writes the client certificate into. */
  header: string;
}): Promise<CertificateProxy> {
  const upstream = new URL(options.upstream);
  const proxy = createServer(
    { cert: options.server.pem, key: options.server.keyPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const certificate = (req.socket as TLSSocket).getPeerX509Certificate();
      const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: upstream.host };
      headers[options.header.toLowerCase()] = certificate ? encodeURIComponent(certificate.toString()) : '';
      const forwarded = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent: false },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forwarded.on('error', () => res.writeHead(502).end());
      req.pipe(forwarded);
    },
  );
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: async () => {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
