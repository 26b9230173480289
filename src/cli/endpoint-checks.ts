/**
 * What the metadata says about the endpoints revocation relies on: RFC 7009 revocation and RFC 7662
 * introspection (where, and which client authentication the IdP takes there, against the methods
 * the library speaks), and OpenID Connect Back-Channel Logout (whether the IdP pushes logouts).
 * Read only: nothing is posted to these endpoints.
 */
import type { IssuerMetadata } from '../core/idp/discovery.js';
import type { ClientAuthMethod } from '../core/idp/client-auth.js';
import { parseTrustedUrl } from '../core/idp/url-policy.js';
import type { DoctorContext } from './doctor-context.js';
import { type Check, check, plainMessage } from './report.js';

/** Every method the library's revocation and introspection clients speak (the compiler keeps it complete). */
const SPOKEN = Object.keys({
  client_secret_basic: true,
  client_secret_post: true,
  none: true,
} satisfies Record<ClientAuthMethod, true>);

interface Endpoint {
  id: 'revocation' | 'introspection';
  member: 'revocation_endpoint' | 'introspection_endpoint';
  methodsMember: string;
  option: string;
  /** What its absence means for a resource server. */
  absent: { status: 'warn' | 'info'; why: string };
}

const REVOCATION: Endpoint = {
  id: 'revocation',
  member: 'revocation_endpoint',
  methodsMember: 'revocation_endpoint_auth_methods_supported',
  option: 'revocation',
  absent: {
    status: 'warn',
    why:
      'verifier.revoke() and revokeRoute() then revoke locally only, unless you set `revocation.endpoint` ' +
      '(Auth0: https://<tenant>/oauth/revoke; see docs/idp-setup.md)',
  },
};

const INTROSPECTION: Endpoint = {
  id: 'introspection',
  member: 'introspection_endpoint',
  methodsMember: 'introspection_endpoint_auth_methods_supported',
  option: 'introspection',
  absent: { status: 'info', why: 'needed only for opaque access tokens (`introspection` option)' },
};

export function checkEndpoints(context: DoctorContext, metadata: IssuerMetadata | undefined): Check[] {
  if (metadata === undefined) {
    return ['revocation', 'introspection', 'backchannel-logout'].map((id) =>
      check(id, 'info', 'not checked: no usable discovery document'),
    );
  }
  return [endpoint(context, metadata, REVOCATION), endpoint(context, metadata, INTROSPECTION), backchannel(metadata)];
}

function endpoint(context: DoctorContext, metadata: IssuerMetadata, spec: Endpoint): Check {
  const value = metadata[spec.member];
  if (value === undefined)
    return check(spec.id, spec.absent.status, `no ${spec.member} in the metadata`, [spec.absent.why]);
  let url: URL;
  try {
    url = parseTrustedUrl(value, `${spec.member} (from discovery)`, context.allowHttp);
  } catch (error) {
    return check(spec.id, 'fail', `unusable ${spec.member}: ${plainMessage(error)}`, [
      `set \`${spec.option}.endpoint\` to a URL the policy accepts`,
    ]);
  }
  // RFC 8414 §2: absent means client_secret_basic; the token endpoint's list is a hint some IdPs rely on.
  const listed = metadata[spec.methodsMember];
  const methods = Array.isArray(listed)
    ? listed.filter((m): m is string => typeof m === 'string')
    : ['client_secret_basic'];
  const usable = methods.filter((method) => SPOKEN.includes(method));
  const data = { url: url.href, authMethods: methods, usableAuthMethods: usable };
  const said = Array.isArray(listed)
    ? `auth methods: ${methods.join(', ')}`
    : 'auth methods not listed (RFC 8414 default: client_secret_basic)';
  if (usable.length === 0) {
    return check(
      spec.id,
      'warn',
      `${url.href}; ${said}`,
      [
        `none of them is one the library speaks (${SPOKEN.join(', ')}): ` +
          `${spec.option === 'revocation' ? 'revocations stay local' : 'introspection cannot authenticate'}`,
      ],
      data,
    );
  }
  return check(spec.id, 'ok', `${url.href}; ${said}`, [`\`${spec.option}.authMethod\`: ${usable.join(' or ')}`], data);
}

function backchannel(metadata: IssuerMetadata): Check {
  const supported = metadata.backchannel_logout_supported === true;
  const session = metadata.backchannel_logout_session_supported === true;
  const data = { supported, sessionSupported: session };
  if (!supported) {
    return check(
      'backchannel-logout',
      'info',
      'back-channel logout not advertised (backchannel_logout_supported is not true)',
      ['the IdP will not push logouts: backchannelLogoutRoute() would receive none; revoke on your own logout instead'],
      data,
    );
  }
  return check(
    'backchannel-logout',
    'ok',
    `back-channel logout supported${session ? ', with session ids (sid)' : ', without session ids (sid)'}`,
    ["register backchannelLogoutRoute() as the client's backchannel_logout_uri at the IdP"],
    data,
  );
}
