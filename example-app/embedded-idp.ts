/**
 * A real OpenID Provider (oidc-provider) running in-process on 127.0.0.1: the example app's
 * default IdP and the IdP every test talks to. It issues RFC 9068 JWT access tokens through
 * client_credentials with resource indicators, and has working revocation and introspection. It
 * can also publish IETF Token Status Lists, signed with its own key (`statusList`).
 *
 * Signing keys are generated at start-up (nothing secret is checked in) and exposed, so tests can
 * also sign hand-crafted tokens with the IdP's genuine key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type Provider from 'oidc-provider';

export interface EmbeddedIdpOptions {
  /** Port to listen on (127.0.0.1). Default: a free one. */
  port?: number;
  /** Audience (resource indicator) of the API. Default `<issuer>/notes-api`. */
  audience?: string;
  /** Scopes the API accepts. */
  scopes?: string[];
  /** Access token lifetime in seconds. Default 600. */
  accessTokenTTL?: number;
  /** Signing algorithm of access tokens. Default RS256. */
  alg?: SigningAlg;
  /** Extra clients besides the default confidential one. */
  clients?: ClientMetadata[];
  /** Existing signing keys (private JWKs), e.g. to keep keys across a restart. */
  keys?: SigningKey[];
  /** Where the IdP POSTs back-channel logout tokens for the default client. */
  backchannelLogoutUri?: string;
  /**
   * Certificate-bound access tokens (RFC 8705): a client registered with
   * `tls_client_certificate_bound_access_tokens: true` gets `cnf['x5t#S256']` of the certificate
   * its token request presents. This IdP speaks plain HTTP, so the request presents it in the
   * `x-test-client-cert` header (URL-encoded PEM), the way a TLS-terminating proxy would.
   */
  mtls?: boolean;
  /**
   * Publish a Token Status List (draft-ietf-oauth-status-list) at `<issuer>/statuslists/1`, and
   * give every JWT access token issued through the token endpoint an entry in it
   * (`status.status_list: { idx, uri }`). More lists: `createStatusList()`.
   */
  statusList?: boolean | StatusListPublishing;
}

/** How the embedded IdP publishes one Token Status List. */
export interface StatusListPublishing {
  /** Bits per token: 1, 2, 4 or 8. Default 2 (VALID, INVALID, SUSPENDED and one more). */
  bits?: 1 | 2 | 4 | 8;
  /** Entries in the list. Default 1024. */
  size?: number;
  /** The list's `ttl` claim in seconds; `null` leaves it out. Default 300. */
  ttl?: number | null;
  /** `exp - iat` of the Status List Token in seconds; `null` leaves `exp` out. Default 3600. */
  lifetime?: number | null;
  /** Epoch ms the list's `iat` is taken from (a test's clock). Default `Date.now`. */
  clock?: () => number;
}

/**
 * A Token Status List the embedded IdP publishes: a Status List Token signed with its active key,
 * fresh on every request, at `uri`.
 */
export interface PublishedStatusList {
  readonly uri: string;
  readonly bits: 1 | 2 | 4 | 8;
  readonly size: number;
  /** Requests its endpoint has answered (the served list or a `serve()` answer). */
  readonly requests: number;
  /** The next unused index: what the next token issued with an entry in this list gets. */
  allocate(): number;
  /** Sets entry `index` to `status` (0 VALID, 1 INVALID, 2 SUSPENDED, 3 application-specific…). */
  setStatus(index: number, status: number): void;
  /** The Status List Token its endpoint serves now; `overrides` change the header or claims. */
  token(overrides?: { header?: Record<string, unknown>; claims?: Record<string, unknown> }): Promise<string>;
  /**
   * Answers requests with `answer` instead of the list (an error status, a hostile or broken
   * list), or with the list again after `serve(undefined)`. A function is called per request.
   */
  serve(answer: StatusListAnswer | (() => StatusListAnswer | Promise<StatusListAnswer>) | undefined): void;
}

/** What a published status list's endpoint answers instead of the list (see `serve`). */
export interface StatusListAnswer {
  status?: number;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}

/** The header the embedded IdP reads a token request's client certificate from (`mtls`). */
export const TEST_CLIENT_CERT_HEADER = 'x-test-client-cert';

export type SigningAlg = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

export interface SigningKey {
  alg: SigningAlg;
  kid: string;
  privateJwk: JWK;
  /** The CryptoKey to sign hand-made tokens with. */
  privateKey: CryptoKeyLike;
}

type CryptoKeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface ClientMetadata {
  client_id: string;
  client_secret?: string;
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'none';
  grant_types?: string[];
  [member: string]: unknown;
}

export interface EmbeddedIdp {
  readonly issuer: string;
  readonly audience: string;
  /** A second resource whose access tokens are opaque (for introspection). */
  readonly opaqueAudience: string;
  readonly provider: Provider;
  readonly client: { clientId: string; clientSecret: string };
  /** Current signing keys, the active one first. */
  readonly keys: readonly SigningKey[];
  /** Number of requests the JWKS endpoint has served. */
  readonly jwksRequests: number;
  /**
   * Issues a JWT access token via client_credentials (a real HTTP call to the token endpoint).
   * With `dpop` (a DPoP proof for `POST <issuer>/token`, RFC 9449 §5), the token is DPoP-bound:
   * its `cnf.jkt` is the thumbprint of the proof's key.
   */
  issueAccessToken(options?: {
    scope?: string;
    clientId?: string;
    clientSecret?: string;
    resource?: string;
    /** PEM of the client certificate the token request presents (`mtls`). */
    certificate?: string;
    /** A DPoP proof for the token request: the token comes back bound to its key (`cnf.jkt`). */
    dpop?: string;
  }): Promise<string>;
  /** Mints a refresh token through the provider's own models (no browser needed). */
  issueRefreshToken(options?: { accountId?: string; clientId?: string }): Promise<string>;
  /** Asks the IdP's introspection endpoint whether a token is active. */
  introspect(token: string): Promise<Record<string, unknown>>;
  /**
   * Rotates signing keys the way a real IdP does: a new key signs from now on; the old one stays
   * published unless `dropOld`. The provider restarts on the same port and issuer.
   */
  rotateKeys(options?: { dropOld?: boolean; alg?: SigningAlg }): Promise<SigningKey>;
  /** Points the default client's back-channel logout at `uri` (the provider restarts, keys kept). */
  setBackchannelLogoutUri(uri: string): Promise<void>;
  /**
   * Ends `sub`'s session the way the IdP does on logout: signs a logout token (with `sid`) and
   * POSTs it to the client's back-channel logout URI, through oidc-provider's own feature.
   */
  backchannelLogout(sub: string, sid?: string): Promise<void>;
  /** The status list issued access tokens get an entry in (`statusList` option), if any. */
  readonly statusList: PublishedStatusList | undefined;
  /** Publishes another Token Status List at `<issuer>/statuslists/<n>`, signed with this IdP's key. */
  createStatusList(options?: StatusListPublishing): PublishedStatusList;
  /** Stops answering (connections refused) until `resume()`; for outage tests. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_CLIENT = { clientId: 'notes-api', clientSecret: 'notes-api-secret-that-is-long-enough' };

let kidCounter = 0;

export async function generateSigningKey(alg: SigningAlg = 'RS256'): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const kid = `key-${alg.toLowerCase()}-${Date.now().toString(36)}-${++kidCounter}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateJwk, privateKey };
}

/**
 * oidc-provider warns that Node 20 is not its preferred runtime (it works; see FACTS) and that its
 * in-memory adapter is for development. Both are true and expected for an embedded test IdP, so we
 * drop exactly those lines while it loads and starts; any other warning still gets through.
 */
function quietly<T>(action: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && /^oidc-provider (WARNING|NOTICE):/.test(args[0])) return;
    warn(...args);
  };
  let result: T;
  try {
    result = action();
  } catch (error) {
    console.warn = warn;
    throw error;
  }
  if (result instanceof Promise) return result.finally(() => (console.warn = warn)) as T;
  console.warn = warn;
  return result;
}

let providerClass: Promise<typeof Provider> | undefined;
let InvalidRequestError: new (description: string) => Error;
const loadProvider = () =>
  (providerClass ??= quietly(() =>
    import('oidc-provider').then((m) => {
      InvalidRequestError = m.errors.InvalidRequest as never;
      return m.default;
    }),
  ));

export async function startEmbeddedIdp(options: EmbeddedIdpOptions = {}): Promise<EmbeddedIdp> {
  const ProviderClass = await loadProvider();
  const server = createServer();
  await listen(server, options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const audience = options.audience ?? `http://127.0.0.1:${port}/notes-api`;
  const opaqueAudience = `http://127.0.0.1:${port}/opaque-api`;
  const scopes = options.scopes ?? ['notes:read', 'notes:write'];
  let keys: SigningKey[] = options.keys ? [...options.keys] : [await generateSigningKey(options.alg ?? 'RS256')];
  let jwksRequests = 0;
  let paused = false;
  let backchannelLogoutUri = options.backchannelLogoutUri;
  const statusLists = new Map<string, StatusListEndpoint>();
  const createStatusList = (publishing: StatusListPublishing = {}): StatusListEndpoint => {
    const path = `/statuslists/${statusLists.size + 1}`;
    const list = publishStatusList(`${issuer}${path}`, publishing, () => keys[0]!);
    statusLists.set(path, list);
    return list;
  };
  const statusList =
    options.statusList === undefined || options.statusList === false
      ? undefined
      : createStatusList(options.statusList === true ? {} : options.statusList);

  const build = (): Provider => {
    const provider = quietly(
      () =>
        new ProviderClass(issuer, {
          clients: [
            {
              client_id: DEFAULT_CLIENT.clientId,
              client_secret: DEFAULT_CLIENT.clientSecret,
              grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
              redirect_uris: ['http://127.0.0.1/callback'],
              token_endpoint_auth_method: 'client_secret_basic',
              ...(backchannelLogoutUri
                ? { backchannel_logout_uri: backchannelLogoutUri, backchannel_logout_session_required: true }
                : {}),
            },
            ...((options.clients ?? []) as never[]),
          ],
          jwks: { keys: keys.map((k) => k.privateJwk) as never[] },
          scopes: ['openid', 'offline_access', ...scopes],
          // Explicit lifetimes and policies keep oidc-provider from printing a notice per default used.
          ttl: {
            ClientCredentials: options.accessTokenTTL ?? 600,
            AccessToken: options.accessTokenTTL ?? 600,
            Grant: 14 * 24 * 3600,
            RefreshToken: 14 * 24 * 3600,
            Session: 3600,
            Interaction: 600,
            IdToken: 3600,
            AuthorizationCode: 60,
          },
          clientDefaults: { id_token_signed_response_alg: keys[0]!.alg },
          // Each access token gets its own entry in the status list (draft-ietf-oauth-status-list §6.1).
          ...(statusList
            ? {
                extraTokenClaims: (_ctx: unknown, token: { kind: string }) =>
                  token.kind === 'AccessToken' || token.kind === 'ClientCredentials'
                    ? { status: { status_list: { idx: statusList.allocate(), uri: statusList.uri } } }
                    : undefined,
              }
            : {}),
          // Its SSRF guard refuses loopback receivers; ours are loopback by design (tests, example).
          fetch: (url: string, init: RequestInit & { dispatcher?: unknown }) => {
            delete init.dispatcher;
            return fetch(url, init);
          },
          features: {
            ...(options.mtls
              ? {
                  mTLS: {
                    enabled: true,
                    certificateBoundAccessTokens: true,
                    getCertificate: (ctx: { get(name: string): string }) => {
                      const escaped = ctx.get(TEST_CLIENT_CERT_HEADER);
                      return escaped ? decodeURIComponent(escaped) : undefined;
                    },
                  },
                }
              : {}),
            backchannelLogout: { enabled: true },
            devInteractions: { enabled: false },
            clientCredentials: { enabled: true },
            // On by default in oidc-provider 9; spelt out because DPoP-bound tokens are tested.
            dPoP: { enabled: true },
            introspection: { enabled: true, allowedPolicy: () => true },
            // The default policy, spelt out: a client may revoke only its own tokens (400 otherwise).
            revocation: {
              enabled: true,
              allowedPolicy: (
                _ctx: unknown,
                client: { clientId: string; clientAuthMethod: string },
                token: { clientId?: string },
              ) => {
                if (token.clientId === client.clientId) return true;
                if (client.clientAuthMethod === 'none') return false;
                throw new InvalidRequestError('client is not authorized to revoke the presented token');
              },
            },
            resourceIndicators: {
              enabled: true,
              defaultResource: () => audience,
              useGrantedResource: () => true,
              getResourceServerInfo: (_ctx: unknown, resource: string) => ({
                audience: resource === opaqueAudience ? opaqueAudience : audience,
                scope: scopes.join(' '),
                accessTokenFormat: resource === opaqueAudience ? 'opaque' : 'jwt',
                accessTokenTTL: options.accessTokenTTL ?? 600,
                jwt: { sign: { alg: keys[0]!.alg } },
              }),
            },
          },
        } as never),
    );
    return provider;
  };

  let provider = build();
  let callback = provider.callback();
  server.on('request', (req, res) => {
    if (paused) {
      req.socket.destroy();
      return;
    }
    if (req.url?.startsWith('/jwks')) jwksRequests++;
    const list = statusLists.get((req.url ?? '').split('?')[0]!);
    if (list) list.answer(req, res);
    else callback(req, res);
  });

  const tokenRequest = async (
    body: Record<string, string>,
    clientId: string,
    clientSecret: string,
    certificate?: string,
    dpop?: string,
  ) => {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(clientId, clientSecret),
        ...(certificate === undefined ? {} : { [TEST_CLIENT_CERT_HEADER]: encodeURIComponent(certificate) }),
        ...(dpop === undefined ? {} : { dpop }),
      },
      body: new URLSearchParams(body),
    });
    const json = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(json)}`);
    return json;
  };

  const idp: EmbeddedIdp = {
    issuer,
    audience,
    opaqueAudience,
    get provider() {
      return provider;
    },
    client: DEFAULT_CLIENT,
    get keys() {
      return keys;
    },
    get jwksRequests() {
      return jwksRequests;
    },
    async issueAccessToken({
      scope = scopes.join(' '),
      clientId = DEFAULT_CLIENT.clientId,
      clientSecret = DEFAULT_CLIENT.clientSecret,
      resource = audience,
      certificate,
      dpop,
    } = {}) {
      const json = await tokenRequest(
        { grant_type: 'client_credentials', scope, resource },
        clientId,
        clientSecret,
        certificate,
        dpop,
      );
      return json.access_token as string;
    },
    async issueRefreshToken({ accountId = 'alice', clientId = DEFAULT_CLIENT.clientId } = {}) {
      const client = await provider.Client.find(clientId);
      if (!client) throw new Error(`unknown client ${clientId}`);
      const grant = new provider.Grant({ accountId, clientId });
      grant.addOIDCScope('openid offline_access');
      const grantId = await grant.save();
      const refreshToken = new provider.RefreshToken({
        client,
        accountId,
        grantId,
        scope: 'openid offline_access',
        gty: 'authorization_code',
      } as never);
      return refreshToken.save();
    },
    async introspect(token: string) {
      const response = await fetch(`${issuer}/token/introspection`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(DEFAULT_CLIENT.clientId, DEFAULT_CLIENT.clientSecret),
        },
        body: new URLSearchParams({ token }),
      });
      return (await response.json()) as Record<string, unknown>;
    },
    async rotateKeys({ dropOld = false, alg } = {}) {
      const fresh = await generateSigningKey(alg ?? keys[0]!.alg);
      keys = dropOld ? [fresh] : [fresh, ...keys];
      provider = build();
      callback = provider.callback();
      return fresh;
    },
    async setBackchannelLogoutUri(uri: string) {
      backchannelLogoutUri = uri;
      provider = build();
      callback = provider.callback();
    },
    async backchannelLogout(sub: string, sid = `sid-${Math.random().toString(36).slice(2)}`) {
      const client = await provider.Client.find(DEFAULT_CLIENT.clientId);
      if (!client) throw new Error('default client missing');
      await quietly(() =>
        (client as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> }).backchannelLogout(
          sub,
          sid,
        ),
      );
    },
    statusList,
    createStatusList,
    async pause() {
      paused = true;
      server.closeIdleConnections();
    },
    async resume() {
      paused = false;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return idp;
}

interface StatusListEndpoint extends PublishedStatusList {
  answer(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * One Token Status List (draft-ietf-oauth-status-list §4-5): `bits` per entry packed from the least
 * significant bit of byte 0, ZLIB-compressed, base64url, in a JWT (`typ: statuslist+jwt`, `sub` =
 * its URI) signed with the IdP's active key when it is requested.
 */
function publishStatusList(
  uri: string,
  publishing: StatusListPublishing,
  signingKey: () => SigningKey,
): StatusListEndpoint {
  const { bits = 2, size = 1024, ttl = 300, lifetime = 3600, clock = Date.now } = publishing;
  const bytes = new Uint8Array(Math.ceil((size * bits) / 8));
  let next = 0;
  let requests = 0;
  let override: Parameters<PublishedStatusList['serve']>[0];
  const token: PublishedStatusList['token'] = async ({ header = {}, claims = {} } = {}) => {
    const key = signingKey();
    const iat = Math.floor(clock() / 1000);
    const lst = Buffer.from(deflateSync(bytes, { level: 9 })).toString('base64url');
    return new SignJWT({
      sub: uri,
      iat,
      ...(lifetime === null ? {} : { exp: iat + lifetime }),
      ...(ttl === null ? {} : { ttl }),
      status_list: { bits, lst },
      ...claims,
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'statuslist+jwt', ...header })
      .sign(key.privateKey);
  };
  const send = (res: ServerResponse, answer: StatusListAnswer) => {
    res.writeHead(answer.status ?? 200, { 'content-type': 'application/statuslist+jwt', ...answer.headers });
    res.end(answer.body ?? '');
  };
  return {
    uri,
    bits,
    size,
    get requests() {
      return requests;
    },
    allocate: () => {
      if (next >= size) throw new Error(`status list ${uri} is full (${size} entries)`);
      return next++;
    },
    setStatus(index, status) {
      if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`no entry ${index} in ${uri}`);
      if (!Number.isInteger(status) || status < 0 || status >= 2 ** bits)
        throw new RangeError(`status ${status} does not fit in ${bits} bits`);
      const bit = index * bits;
      const mask = ((1 << bits) - 1) << (bit % 8);
      bytes[bit >> 3] = (bytes[bit >> 3]! & ~mask) | (status << (bit % 8));
    },
    token,
    serve(answer) {
      override = answer;
    },
    answer(_req, res) {
      requests++;
      const answer = override;
      const pending = typeof answer === 'function' ? answer() : answer;
      Promise.resolve(pending ?? token().then((body) => ({ body })))
        .then((reply) => send(res, reply))
        .catch((error: unknown) => send(res, { status: 500, body: String(error) }));
    },
  };
}

/** RFC 6749 §2.3.1: form-encode id and secret before base64, or special characters break. */
export function basicAuth(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
