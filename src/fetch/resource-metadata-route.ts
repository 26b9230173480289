/**
 * `protectedResourceMetadata()` for Web-standard `Request`/`Response`: the RFC 9728 document.
 * Glue only: the answer is the core's (core/request/resource-metadata.ts). Web-standard APIs only.
 */
import {
  createProtectedResourceMetadataHandler,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
} from '../core/request/resource-metadata.js';
import { toResponse } from '../glue/web-request.js';

/**
 * The route {@link protectedResourceMetadata} returns: `(request) => Promise<Response>`, and
 * where it belongs.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadata, type FetchMetadataRoute } from 'revocable-jwt/fetch';
 * const metadata: FetchMetadataRoute = protectedResourceMetadata({ resource: 'https://api.example.com', verifier });
 * ```
 */
export interface FetchMetadataRoute {
  (request: Pick<Request, 'method' | 'headers'>): Promise<Response>;
  /** Where to mount it: `/.well-known/oauth-protected-resource` followed by the resource's path. */
  readonly path: string;
  /** Its absolute URL: what guards pass as `resourceMetadata`. */
  readonly url: string;
  /** The document served. */
  readonly metadata: ProtectedResourceMetadata;
}

/**
 * The RFC 9728 protected resource metadata endpoint for `Request`/`Response`: GET and HEAD answer
 * the document (`Cache-Control: public, max-age=3600`, `Access-Control-Allow-Origin: *`), OPTIONS
 * the CORS preflight, anything else 405. Serve it at `route.path` (in Next.js:
 * `app/.well-known/oauth-protected-resource/route.ts`), and give its `url` to the guards as
 * `resourceMetadata`.
 *
 * @throws TypeError at construction: see `createProtectedResourceMetadataHandler`.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadata } from 'revocable-jwt/fetch';
 * const metadata = protectedResourceMetadata({ resource: 'https://api.example.com', verifier });
 * export const GET = metadata;
 * export const HEAD = metadata;
 * export const OPTIONS = metadata;
 * ```
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): FetchMetadataRoute {
  const handle = createProtectedResourceMetadataHandler(options, 'protectedResourceMetadata');
  const route = async (request: Pick<Request, 'method' | 'headers'>): Promise<Response> => {
    const response = toResponse(handle(request));
    // A Response to HEAD carries the headers of the GET, never its body.
    return request.method === 'HEAD' ? new Response(null, response) : response;
  };
  return Object.defineProperties(route, {
    path: { value: handle.path, enumerable: true },
    url: { value: handle.url, enumerable: true },
    metadata: { value: handle.metadata, enumerable: true },
  }) as FetchMetadataRoute;
}
