/**
 * `npm start`: a walkthrough of revocable-jwt against a real IdP.
 *
 * By default it embeds oidc-provider (no setup, no accounts). To use your own IdP instead:
 *   ISSUER=https://idp.example.com/ AUDIENCE=https://api.example.com \
 *   CLIENT_ID=... CLIENT_SECRET=... [SCOPE="notes:read notes:write"] npm start
 * or pass ACCESS_TOKEN=... instead of the client credentials.
 *
 * Flags: --serve keeps the API (and embedded IdP) running after the walkthrough and prints curl commands to
 * try it (a token from the IdP, calls with it, the logout); PORT sets its port;
 * --framework express|fastify|hono picks which variant of the notes API serves it (default express:
 * app.ts; fastify-app.ts and hono-app.ts are the same API on the other adapters).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { SignJWT, createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { createVerifier, type Verifier } from 'revocable-jwt';
import { createNotesApp } from './app.js';
import { DEFAULT_CLIENT, startEmbeddedIdp, type EmbeddedIdp } from './embedded-idp.js';
import { createFastifyNotesApp } from './fastify-app.js';
import { createHonoNotesApp } from './hono-app.js';

const serve = process.argv.includes('--serve');
const frameworks = ['express', 'fastify', 'hono'] as const;
type Framework = (typeof frameworks)[number];
const framework = frameworkFlag();
// Steps are numbered as they are shown: one the run cannot show (own IdP) takes no number.
let shown = 0;
const step = (text: string) => console.log(`\n[${++shown}] ${text}`);
const show = (label: string, value: string) => console.log(`    ${label.padEnd(18)} ${value}`);
const short = (token: string) => `${token.slice(0, 16)}…${token.slice(-8)} (${token.length} chars)`;

let failures = 0;
function expectStatus(actual: number, expected: number, what: string): void {
  const ok = actual === expected;
  if (!ok) failures++;
  show(ok ? 'ok' : 'UNEXPECTED', `${what}: HTTP ${actual}${ok ? '' : ` (expected ${expected})`}`);
}

function frameworkFlag(): Framework {
  const at = process.argv.indexOf('--framework');
  if (at === -1) return 'express';
  const name = process.argv[at + 1];
  if (!frameworks.includes(name as Framework)) {
    console.error(`--framework takes one of ${frameworks.join(', ')} (got ${name ?? 'nothing'})`);
    process.exit(2);
  }
  return name as Framework;
}

/** The notes API on the chosen framework, as a listener for a `node:http` server we already own. */
async function notesListener(options: { verifier: Verifier; clientId?: string }): Promise<RequestListener> {
  if (framework === 'express') return createNotesApp(options);
  if (framework === 'hono') return getRequestListener(createHonoNotesApp(options).fetch);
  const app = createFastifyNotesApp(options);
  await app.ready();
  return (req, res) => app.routing(req, res);
}

async function call(base: string, method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, challenge: response.headers.get('www-authenticate') ?? '', body: text };
}

async function obtainToken(idp: EmbeddedIdp | undefined, issuer: string): Promise<string> {
  if (idp) return idp.issueAccessToken({ scope: 'notes:read notes:write' });
  if (process.env.ACCESS_TOKEN) return process.env.ACCESS_TOKEN;
  const { CLIENT_ID, CLIENT_SECRET, SCOPE } = process.env;
  if (!CLIENT_ID || !CLIENT_SECRET)
    throw new Error('with ISSUER set, pass ACCESS_TOKEN or CLIENT_ID and CLIENT_SECRET');
  const metadata = (await (
    await fetch(new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`))
  ).json()) as {
    token_endpoint: string;
  };
  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      audience: process.env.AUDIENCE!,
      ...(SCOPE ? { scope: SCOPE } : {}),
    }),
  });
  const json = (await response.json()) as { access_token?: string };
  if (!json.access_token) throw new Error(`token endpoint answered ${response.status}`);
  return json.access_token;
}

async function metadataOf(issuer: string): Promise<{ jwks_uri: string; token_endpoint?: string }> {
  const url = new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`);
  return (await (await fetch(url)).json()) as { jwks_uri: string; token_endpoint?: string };
}

/** A value as one shell word (POSIX single quotes), quoted only when it needs to be. */
const sh = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`);

/**
 * `--serve`: the commands to try the API by hand, runnable as printed (bash or zsh; test/example-app
 * runs them). The token comes from the embedded IdP's token endpoint (client_credentials, the demo
 * client's id and secret, `resource` = the API's audience, so it is a JWT the API verifies); with your
 * own IdP, from the way step 2 got one.
 */
function curlCommands(base: string, idp: { tokenEndpoint: string; audience: string } | undefined): string[] {
  const lines: string[] = [];
  if (idp) {
    const { clientId, clientSecret } = DEFAULT_CLIENT;
    lines.push(
      '# a token: client_credentials at the IdP; `resource` (RFC 8707) makes it a JWT for the notes API',
      `TOKEN=$(curl -sS -u ${sh(`${clientId}:${clientSecret}`)} -d grant_type=client_credentials \\`,
      `  --data-urlencode ${sh('scope=notes:read notes:write')} \\`,
      `  --data-urlencode ${sh(`resource=${idp.audience}`)} ${sh(idp.tokenEndpoint)} \\`,
      `  | node -pe ${sh('JSON.parse(require("fs").readFileSync(0, "utf8")).access_token')})`,
    );
  } else {
    lines.push('# a token: an access token from your IdP for this API, as step 2 got one', "TOKEN='<access token>'");
  }
  // -i: the status line and headers (the challenge on a 401); -w: a newline after the body.
  const curl = "curl -sS -i -w '\\n'";
  // Double quotes: the shell puts the token in.
  const bearer = '-H "Authorization: Bearer $TOKEN"';
  const notes = sh(`${base}/notes`);
  lines.push(
    '# call the API with it',
    `${curl} ${bearer} ${notes}`,
    `${curl} ${bearer} -H ${sh('Content-Type: application/json')} -d ${sh('{"text":"from curl"}')} ${notes}`,
    '# log out (revokes the token here and at the IdP), then the same call is refused: 401',
    `${curl} -X POST ${bearer} ${sh(`${base}/logout`)}`,
    `${curl} ${bearer} ${notes}`,
  );
  return lines;
}

async function main(): Promise<void> {
  const external = process.env.ISSUER;
  // The API's port comes first: the embedded IdP must know where to send back-channel logouts.
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const idp = external ? undefined : await startEmbeddedIdp({ backchannelLogoutUri: `${base}/backchannel-logout` });
  const issuer = external ?? idp!.issuer;
  const audience = process.env.AUDIENCE ?? idp?.audience;
  if (!audience) throw new Error('with ISSUER set, AUDIENCE is required too');

  step(idp ? 'Embedded IdP (oidc-provider) is up' : 'Using your IdP');
  show('issuer', issuer);
  show('audience', audience);

  const verifier = createVerifier({
    issuer,
    audience,
    // Where logout forwards revocations (RFC 7009); the endpoint comes from discovery.
    ...(idp
      ? { revocation: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret } }
      : process.env.CLIENT_ID
        ? {
            revocation: {
              clientId: process.env.CLIENT_ID,
              ...(process.env.CLIENT_SECRET ? { clientSecret: process.env.CLIENT_SECRET } : {}),
            },
          }
        : {}),
  });
  const clientId = idp?.client.clientId ?? process.env.CLIENT_ID;
  server.on('request', await notesListener({ verifier, ...(clientId ? { clientId } : {}) }));
  show('notes API', `${base} (${framework})`);

  step('An access token is issued (client_credentials)');
  const token = await obtainToken(idp, issuer);
  const claims = decodeJwt(token);
  show('token', short(token));
  show('claims', JSON.stringify({ sub: claims.sub, scope: claims.scope, exp: claims.exp }));

  step('The API accepts it, verifying locally against the IdP JWKS');
  expectStatus((await call(base, 'POST', '/notes', token, { text: 'hello' })).status, 201, 'POST /notes');
  const listed = await call(base, 'GET', '/notes', token);
  expectStatus(listed.status, 200, 'GET /notes');
  show('body', listed.body);
  const stats = verifier.stats();
  show(
    'verifier stats',
    `cache hits ${stats.cache.hits}, misses ${stats.cache.misses}, JWKS fetches ${stats.jwks.fetches}`,
  );

  step('No token: 401 with a bare challenge (RFC 6750 §3.1)');
  const missing = await call(base, 'GET', '/notes');
  expectStatus(missing.status, 401, 'GET /notes without token');
  show('WWW-Authenticate', missing.challenge);

  step('A forged token (payload changed to grant more scope) is refused');
  const [h, , s] = token.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ ...claims, scope: 'notes:read notes:write admin' })).toString(
    'base64url',
  );
  const forged = await call(base, 'GET', '/notes', `${h}.${forgedPayload}.${s}`);
  expectStatus(forged.status, 401, 'GET /notes with forged token');
  show('WWW-Authenticate', forged.challenge);

  step('An expired token is refused');
  if (idp) {
    const key = idp.keys[0]!;
    const now = Math.floor(Date.now() / 1000);
    const expiredToken = await new SignJWT({ ...claims, iat: now - 3600, exp: now - 60 })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .sign(key.privateKey);
    show('note', "signed with the IdP's own key, exp one minute ago");
    const expired = await call(base, 'GET', '/notes', expiredToken);
    expectStatus(expired.status, 401, 'GET /notes with expired token');
    show('WWW-Authenticate', expired.challenge);
  } else {
    show('skipped', 'needs the embedded IdP (its key signs an already-expired token)');
  }

  step('A token without the needed scope gets 403 insufficient_scope');
  if (idp) {
    const readOnly = await idp.issueAccessToken({ scope: 'notes:read' });
    const denied = await call(base, 'POST', '/notes', readOnly, { text: 'nope' });
    expectStatus(denied.status, 403, 'POST /notes with a notes:read token');
    show('WWW-Authenticate', denied.challenge);
  } else {
    show('skipped', 'needs the embedded IdP to issue a narrower token');
  }

  step('Logout: POST /logout with the token (revokeRoute)');
  // What most APIs do today: verify locally with plain jose and nothing else.
  const naiveKeys = createRemoteJWKSet(new URL((await metadataOf(issuer)).jwks_uri));
  const naive = async (t: string) =>
    jwtVerify(t, naiveKeys, { issuer, audience }).then(
      () => 'ACCEPTED',
      (e: Error) => `refused (${e.message})`,
    );
  show('naive, before', `plain jose jwtVerify says: ${await naive(token)}`);
  const logout = await call(base, 'POST', '/logout', token);
  expectStatus(logout.status, 200, 'POST /logout');
  show('body', logout.body);
  if (idp)
    show(
      'IdP said',
      'oidc-provider cannot revoke JWT access tokens (400 unsupported_token_type): ' +
        'the local denylist is the revocation',
    );

  step('The same token, right after logout');
  const after = await call(base, 'GET', '/notes', token);
  expectStatus(after.status, 401, 'GET /notes with the revoked token');
  show('WWW-Authenticate', after.challenge);
  const naiveAfter = await naive(token);
  show('naive verifier', `plain jose jwtVerify on the same token: ${naiveAfter}`);
  show(
    '',
    naiveAfter === 'ACCEPTED'
      ? "the IdPs' warning, demonstrated: local verification alone keeps a revoked token alive until exp"
      : '',
  );
  const revStats = verifier.stats().revocation;
  show('verifier stats', `denylisted ${revStats.denylisted}, IdP retries pending ${revStats.outbox.pending}`);

  if (idp) {
    step('A refresh token revoked through /logout is dead at the IdP too');
    const refresh = await idp.issueRefreshToken();
    show('introspection', JSON.stringify(await idp.introspect(refresh)));
    const fresh = await idp.issueAccessToken({ scope: 'notes:read' });
    const both = await fetch(`${base}/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fresh}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refresh, token_type_hint: 'refresh_token' }),
    });
    expectStatus(both.status, 200, 'POST /logout (refresh token in body, access token in header)');
    const introspection = await idp.introspect(refresh);
    show('introspection', JSON.stringify(introspection));
    if (introspection.active !== false) {
      failures++;
      show('UNEXPECTED', 'the IdP still reports the refresh token active');
    }
    expectStatus(
      (await call(base, 'GET', '/notes', fresh)).status,
      401,
      'GET /notes with the access token from that logout',
    );

    step("The IdP ends a user's session: back-channel logout (OpenID Connect)");
    const key = idp.keys[0]!;
    const now = Math.floor(Date.now() / 1000);
    const aliceToken = await new SignJWT({
      sub: 'alice',
      scope: 'notes:read',
      client_id: idp.client.clientId,
      jti: `alice-${now}`,
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(now - 5)
      .setExpirationTime(now + 600)
      .sign(key.privateKey);
    show('note', "alice's access token is signed with the IdP's key (a browser login would issue the same)");
    expectStatus((await call(base, 'GET', '/notes', aliceToken)).status, 200, 'GET /notes as alice');
    await idp.backchannelLogout('alice');
    show('IdP', 'oidc-provider signed a logout token and POSTed it to /backchannel-logout');
    const afterLogout = await call(base, 'GET', '/notes', aliceToken);
    expectStatus(afterLogout.status, 401, 'GET /notes as alice after the IdP ended her session');
    show('WWW-Authenticate', afterLogout.challenge);
  }

  step('Metrics (Prometheus) at GET /metrics');
  const metricsText = await (await fetch(`${base}/metrics`)).text();
  for (const line of metricsText.split('\n')) {
    if (/^revocable_jwt_(requests_total|revocations_total|cache_hit_ratio|jwks_fetches_total)/.test(line))
      show('', line);
  }

  const verdict =
    failures === 0
      ? 'Walkthrough complete: every step behaved as expected.'
      : `Walkthrough FAILED: ${failures} unexpected answer(s).`;
  console.log(`\n${verdict}`);
  if (serve && failures === 0) {
    console.log(`\nServing until Ctrl-C: notes API ${base}${idp ? `, IdP ${idp.issuer}` : ''}`);
    const tokenEndpoint = idp ? (await metadataOf(idp.issuer)).token_endpoint : undefined;
    console.log('\nTry it with curl:');
    for (const line of curlCommands(base, idp && tokenEndpoint ? { tokenEndpoint, audience } : undefined))
      console.log(`  ${line}`);
    console.log('\nCtrl-C stops the API and the IdP.');
    const stop = async () => {
      server.close();
      await verifier.close();
      await idp?.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return;
  }
  server.closeAllConnections();
  server.close();
  await verifier.close();
  await idp?.close();
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error('walkthrough failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
