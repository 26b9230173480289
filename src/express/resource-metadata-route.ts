/**
 * `protectedResourceMetadata()` for Express, Connect and `node:http`: the RFC 9728 document at
 * `route.path`. Glue only: the answer is the core's (core/request/resource-metadata.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createProtectedResourceMetadataHandler,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
} from '../core/request/resource-metadata.js';
import { writeAnswer } from '../glue/node-answer.js';

/**
 * The route {@link protectedResourceMetadata} returns: `(req, res)`, and where it belongs.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadata, type MetadataRoute } from 'revocable-jwt';
 * const metadata: MetadataRoute = protectedResourceMetadata({ resource: 'https://api.example.com', verifier });
 * app.all(metadata.path, metadata);
 * ```
 */
export interface MetadataRoute {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Where to mount it: `/.well-known/oauth-protected-resource` followed by the resource's path. */
  readonly path: string;
  /** Its absolute URL: what guards pass as `resourceMetadata`. */
  readonly url: string;
  /** The document served. */
  readonly metadata: ProtectedResourceMetadata;
}

/**
 * The RFC 9728 protected resource metadata endpoint (Express, Connect, `node:http`): GET and HEAD
 * answer the document (`Cache-Control: public, max-age=3600`, `Access-Control-Allow-Origin: *`),
 * OPTIONS the CORS preflight, anything else 405. Mount it at `route.path` for every method, and
 * give its `url` to the guards as `resourceMetadata` so their challenges point at it.
 *
 * @throws TypeError at construction: see `createProtectedResourceMetadataHandler`.
 *
 * @example
 * ```ts
 * import { authGuard, protectedResourceMetadata } from 'revocable-jwt';
 * const metadata = protectedResourceMetadata({
 *   resource: 'https://api.example.com',
 *   verifier, // authorization_servers: its issuers
 *   scopesSupported: ['notes:read'],
 * });
 * app.all(metadata.path, metadata); // /.well-known/oauth-protected-resource
 * app.get('/notes', authGuard({ verifier, scopes: ['notes:read'], resourceMetadata: metadata.url }), (req, res) => {
 *   res.json({ user: req.auth!.payload.sub });
 * });
 * ```
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): MetadataRoute {
  const handle = createProtectedResourceMetadataHandler(options, 'protectedResourceMetadata');
  // Node's http sends no body for HEAD, whatever is written: the answer is the same for both.
  const route = (req: IncomingMessage, res: ServerResponse): void => writeAnswer(res, handle(req));
  return Object.defineProperties(route, {
    path: { value: handle.path, enumerable: true },
    url: { value: handle.url, enumerable: true },
    metadata: { value: handle.metadata, enumerable: true },
  }) as MetadataRoute;
}
