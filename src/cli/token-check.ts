/**
 * A token, taken apart: what it is (JWS, JWE, opaque), its header (`alg`, `kid`, `typ`), the key
 * that must have signed it, its issuer, audience and times, the scopes a guard would see and any
 * sender binding (`cnf`). Those checks explain; the verdict is the library's own: the verifier,
 * configured as the user would, verifies the token, and its refusal (`reason`, description and
 * cause) is reported as is. The token itself is never printed.
 */
import { decodeJwt, decodeProtectedHeader, type JWTHeaderParameters } from 'jose';
import { grantedScopes } from '../core/request/scopes.js';
import { AuthError } from '../core/shared/errors.js';
import type { AccessTokenClaims } from '../core/shared/verified-token.js';
import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS } from '../core/verify/options.js';
import type { Verifier } from '../core/verify/types.js';
import { explainIssuerDifference } from './discovery-check.js';
import type { DoctorContext } from './doctor-context.js';
import type { PublishedKey } from './jwks-check.js';
import { type Check, check, plainMessage } from './report.js';

/** The verifier's default `maxTokenLifetime` (24 h), in seconds. */
const MAX_TOKEN_LIFETIME = 86_400;

export async function checkToken(
  context: DoctorContext,
  presented: string,
  keys: PublishedKey[] | undefined,
  verifier: Verifier,
): Promise<Check[]> {
  const checks: Check[] = [];
  let token = presented.trim();
  if (/^(bearer|dpop)\s+/i.test(token)) {
    token = token.replace(/^\S+\s+/, '');
    checks.push(check('token.format', 'info', 'the scheme (Bearer/DPoP) was taken off: pass the token alone'));
  }
  const segments = token.split('.').length;
  if (segments === 5) {
    checks.push(
      check('token.format', 'fail', 'an encrypted token (JWE, 5 segments): only its audience can read it', [
        'ask the IdP for a signed (JWS) access token for your API: see docs/idp-setup.md for your IdP',
      ]),
    );
  } else if (segments !== 3) {
    checks.push(
      check('token.format', 'fail', 'an opaque token (not a JWT): it cannot be verified locally', [
        'ask the IdP for a JWT access token (Auth0: request an `audience`; see docs/idp-setup.md), ' +
          'or verify it by RFC 7662 introspection (the `introspection` option)',
      ]),
    );
  } else {
    const decoded = decode(token);
    if (typeof decoded === 'string') checks.push(check('token.format', 'fail', decoded));
    else checks.push(...explain(context, decoded.header, decoded.claims, keys));
  }
  checks.push(await verdict(token, verifier));
  return checks;
}

function decode(token: string): { header: JWTHeaderParameters; claims: AccessTokenClaims } | string {
  try {
    return { header: decodeProtectedHeader(token) as JWTHeaderParameters, claims: decodeJwt(token) };
  } catch (error) {
    return `not a JWT: ${plainMessage(error)}`;
  }
}

function explain(
  context: DoctorContext,
  header: JWTHeaderParameters,
  claims: AccessTokenClaims,
  keys: PublishedKey[] | undefined,
): Check[] {
  return [
    headerCheck(context, header),
    keyCheck(header, keys),
    issuerCheck(context, claims),
    audienceCheck(context, claims),
    timeCheck(context, claims),
    scopeCheck(header, claims),
    bindingCheck(claims),
  ];
}

function headerCheck(context: DoctorContext, header: JWTHeaderParameters): Check {
  const summary = `alg ${header.alg ?? '(none)'}, kid ${header.kid ?? '(none)'}, typ ${header.typ ?? '(none)'}`;
  const data = { alg: header.alg, kid: header.kid, typ: header.typ };
  const alg = header.alg ?? '';
  if (alg.toLowerCase() === 'none') return check('token.header', 'fail', `${summary}: unsigned`, [], data);
  if ((HMAC_ALGORITHMS as readonly string[]).includes(alg)) {
    return check('token.header', 'fail', `${summary}: signed with a shared secret (HMAC)`, [
      `accepted only with \`algorithms: ['${alg}']\` and the shared \`secret\`; JWKS keys never verify HMAC`,
    ]);
  }
  if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
    return check('token.header', 'fail', `${summary}: alg ${alg} is not supported`, [], data);
  }
  const typ = header.typ?.toLowerCase().replace(/^application\//, '');
  if (context.typ !== undefined && typ !== context.typ.toLowerCase().replace(/^application\//, '')) {
    return check('token.header', 'fail', `${summary}: the verifier requires typ ${context.typ}`, [], data);
  }
  if (typ !== 'at+jwt') {
    return check(
      'token.header',
      'info',
      summary,
      ['not typed at+jwt (RFC 9068): fine, but then `typ` cannot tell access tokens from ID tokens'],
      data,
    );
  }
  return check('token.header', 'ok', summary, [], data);
}

function keyCheck(header: JWTHeaderParameters, keys: PublishedKey[] | undefined): Check {
  if (keys === undefined) return check('token.key', 'info', 'not checked: the JWKS could not be read');
  const alg = header.alg ?? '';
  const kids = keys.map((key) => key.kid ?? '(none)').join(', ');
  if (header.kid !== undefined) {
    const named = keys.filter((key) => key.kid === header.kid);
    if (named.length === 0) {
      return check('token.key', 'fail', `kid ${header.kid} is not in the JWKS (kids: ${kids || 'none'})`, [
        'a token of another issuer or tenant, a key the IdP has rotated out, or a token not meant for third ' +
          'parties (Entra ID tokens for Microsoft Graph)',
      ]);
    }
    const fit = named.filter((key) => key.usable && key.algorithms.includes(alg));
    if (fit.length === 0) {
      const why = named.flatMap((key) =>
        key.usable ? [`it verifies ${key.algorithms.join('/')}, not ${alg}`] : key.problems,
      );
      return check('token.key', 'fail', `kid ${header.kid} is in the JWKS but cannot verify this token`, why);
    }
    return check('token.key', 'ok', `kid ${header.kid} found: ${fit[0]!.kty} key for ${alg}`);
  }
  const candidates = keys.filter((key) => key.usable && key.algorithms.includes(alg));
  if (candidates.length === 0) return check('token.key', 'fail', `no kid, and no published key verifies ${alg}`);
  if (candidates.length > 2) {
    return check('token.key', 'warn', `no kid: ${candidates.length} keys could verify ${alg}`, [
      'a token without kid is checked against the first two only: ask the IdP to put kid in its tokens',
    ]);
  }
  return check('token.key', 'ok', `no kid: ${candidates.length} published key(s) verify ${alg}`);
}

function issuerCheck(context: DoctorContext, claims: AccessTokenClaims): Check {
  if (claims.iss === context.issuer) return check('token.issuer', 'ok', `iss is exactly ${JSON.stringify(claims.iss)}`);
  if (typeof claims.iss !== 'string') return check('token.issuer', 'fail', 'no iss claim');
  const details = [explainIssuerDifference(context.issuer, claims.iss)];
  if (/^https:\/\/sts\.windows\.net\//.test(claims.iss)) {
    details.push(
      "an Entra ID v1.0 access token: set requestedAccessTokenVersion to 2 in the API app's manifest for v2.0 " +
        'tokens (iss https://login.microsoftonline.com/<tenant>/v2.0), or configure the v1.0 issuer',
    );
  }
  return check(
    'token.issuer',
    'fail',
    `iss is ${JSON.stringify(claims.iss)}, not ${JSON.stringify(context.issuer)}`,
    details,
  );
}

function audienceCheck(context: DoctorContext, claims: AccessTokenClaims): Check {
  const { aud } = claims;
  const expected = context.audience.map((a) => JSON.stringify(a)).join(' or ');
  const cognito = claims.token_use === 'access' && typeof claims.client_id === 'string';
  if (claims.token_use !== undefined && claims.token_use !== 'access') {
    return check('token.audience', 'fail', `token_use is ${JSON.stringify(claims.token_use)}: not an access token`, [
      claims.token_use === 'id'
        ? 'an Amazon Cognito ID token: send the access token instead (its client_id names the app client)'
        : 'the verifier takes only tokens whose token_use, when present, is "access"',
    ]);
  }
  if (context.audienceClaim === 'client_id') return clientIdAudienceCheck(context, claims, expected);
  if (aud === undefined) {
    return check('token.audience', 'fail', 'no aud claim: the verifier requires one', [
      cognito
        ? 'an Amazon Cognito access token: it names the app client in client_id, not aud: set ' +
          "`audienceClaim: 'client_id'` with the app client ID(s) as `audience` (here: --audience-claim client_id); " +
          'see docs/idp-setup.md'
        : 'ask the IdP for an access token for your API (an audience / resource indicator)',
    ]);
  }
  const list = Array.isArray(aud) ? aud : [aud];
  if (list.some((a) => context.audience.includes(a))) {
    return check('token.audience', 'ok', `aud ${JSON.stringify(aud)} contains ${expected}`);
  }
  const details = ['`audience` must be one of the values in aud: is the token meant for another API?'];
  if (list.some((a) => /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(a))) {
    details.push(
      "Entra ID: v2.0 access tokens carry the API's application (client) ID as aud, v1.0 tokens its " +
        'Application ID URI (api://…)',
    );
  }
  return check('token.audience', 'fail', `aud ${JSON.stringify(aud)} does not contain ${expected}`, details);
}

/** `audienceClaim: 'client_id'`: the token's client_id must be one of the audiences; aud is not looked at. */
function clientIdAudienceCheck(context: DoctorContext, claims: AccessTokenClaims, expected: string): Check {
  const clientId: unknown = claims.client_id;
  const ignored =
    claims.aud === undefined ? [] : ['its aud is not looked at: with audienceClaim client_id, client_id decides'];
  if (clientId === undefined) {
    return check(
      'token.audience',
      'fail',
      'no client_id claim: with audienceClaim client_id the verifier requires one',
      [
        claims.aud === undefined
          ? 'is this an access token of the IdP the option is meant for (Amazon Cognito)?'
          : "the token has aud: keep the default audienceClaim ('aud') for this IdP",
      ],
    );
  }
  if (typeof clientId !== 'string') return check('token.audience', 'fail', 'client_id is not a string');
  if (context.audience.includes(clientId))
    return check('token.audience', 'ok', `client_id ${JSON.stringify(clientId)} is ${expected}`, ignored);
  return check('token.audience', 'fail', `client_id ${JSON.stringify(clientId)} is not ${expected}`, [
    '`audience` lists the app client IDs whose tokens this API accepts: is the token of another app client?',
    ...ignored,
  ]);
}

function timeCheck(context: DoctorContext, claims: AccessTokenClaims): Check {
  const now = context.clock() / 1000;
  const tolerance = context.clockTolerance;
  const at = (seconds: number) => new Date(seconds * 1000).toISOString();
  const { exp, nbf, iat } = claims;
  const data = { exp, nbf, iat, now: Math.floor(now) };
  if (typeof exp !== 'number') return check('token.time', 'fail', 'no exp claim: the verifier requires one', [], data);
  if (exp <= now - tolerance) {
    return check(
      'token.time',
      'fail',
      `expired ${Math.round(now - exp)} s ago (exp ${at(exp)})`,
      ['get a new token'],
      data,
    );
  }
  if (typeof nbf === 'number' && nbf > now + tolerance) {
    return check('token.time', 'fail', `not valid before ${at(nbf)} (${Math.round(nbf - now)} s from now)`, [
      'a clock skew between the IdP and this host? see the clock check',
    ]);
  }
  if (typeof iat !== 'number') {
    return check('token.time', 'fail', 'no iat claim: the verifier requires one (RFC 9068 §2.2)', [], data);
  }
  if (iat > now + tolerance) {
    return check('token.time', 'fail', `issued ${Math.round(iat - now)} s in the future (iat ${at(iat)})`, [
      "the IdP's clock is ahead of ours: see the clock check",
    ]);
  }
  if (exp - iat > MAX_TOKEN_LIFETIME + tolerance) {
    return check(
      'token.time',
      'fail',
      `lives ${((exp - iat) / 3600).toFixed(1)} h (exp − iat): longer than maxTokenLifetime (24 h by default)`,
      ['raise `maxTokenLifetime` if you accept such tokens (revocations are then kept that long)'],
      data,
    );
  }
  return check('token.time', 'ok', `valid for another ${Math.round(exp - now)} s (exp ${at(exp)})`, [], data);
}

function scopeCheck(header: JWTHeaderParameters, claims: AccessTokenClaims): Check {
  const scopes = [...grantedScopes({ token: '', header, payload: claims, source: 'jwt' })];
  const details: string[] = [];
  if (Array.isArray(claims.permissions) && scopes.length === 0)
    details.push('Auth0 RBAC `permissions` are not scopes: require them with a claim rule, or grant scopes');
  if (typeof claims.roles === 'object' && scopes.length === 0)
    details.push('`roles` (Entra ID app roles) are not scopes: require them with a claim rule');
  return check(
    'token.scopes',
    'info',
    scopes.length > 0
      ? `scopes a guard sees: ${scopes.join(' ')}`
      : 'no scopes (scope/scp): routes that require one refuse it',
    details,
    { scopes },
  );
}

function bindingCheck(claims: AccessTokenClaims): Check {
  const cnf = typeof claims.cnf === 'object' && claims.cnf !== null ? (claims.cnf as Record<string, unknown>) : {};
  if (typeof cnf.jkt === 'string') {
    return check('token.binding', 'info', 'DPoP-bound (cnf.jkt): a guard refuses it as a Bearer token', [
      'send it as `Authorization: DPoP <token>` with a DPoP proof; give the verifier `publicUrl` so guards take DPoP',
    ]);
  }
  if (typeof cnf['x5t#S256'] === 'string') {
    return check('token.binding', 'info', 'certificate-bound (cnf["x5t#S256"], RFC 8705)', [
      'accepted only by a guard with `mtls`, from the client holding that certificate',
    ]);
  }
  return check('token.binding', 'info', 'not sender-constrained (no cnf): a plain bearer token');
}

async function verdict(token: string, verifier: Verifier): Promise<Check> {
  try {
    const { payload } = await verifier.verify(token);
    const client = payload.client_id ?? payload.azp;
    const by = client ? `, client ${JSON.stringify(client)}` : '';
    return check('token.verdict', 'ok', `accepted by the verifier: sub ${JSON.stringify(payload.sub)}${by}`);
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    const causes: string[] = [];
    // A misconfiguration explains itself in `message` (clients see only the generic description).
    if (plainMessage(error) !== error.description) causes.push(plainMessage(error));
    for (let cause = error.cause; cause instanceof Error && causes.length < 4; cause = cause.cause)
      causes.push(`because: ${plainMessage(cause)}`);
    return check(
      'token.verdict',
      'fail',
      `refused by the verifier: ${error.reason} (${error.status}): ${error.description}`,
      causes,
      {
        reason: error.reason,
        status: error.status,
        code: error.code,
      },
    );
  }
}
