/**
 * Attacks on `audienceClaim` and the `token_use` rule, where one decision is made in three places:
 * verify() (registered-claims.ts), revoke()'s ownership check (ownership-check.ts), and the
 * doctor's explanation (cli/token-check.ts). An attacker looks for a token the three judge apart:
 * one verify() accepts but revoke() calls foreign (a session that cannot be ended), an ID token
 * or another audience's token revoke() denylists, or a doctor saying "ok" about an audience the
 * verifier refuses. Every combination of `aud`, `client_id` and `token_use` an attacker would shape, in
 * both modes, signed with the issuer's real key; the doctor on the embedded IdP-like fake IdP.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runDoctor } from '../../src/cli/doctor.js';
import { type AudienceClaim, createVerifier, type Verifier } from '../../src/index.js';
import {
  closeFakeIdps,
  type FakeIdp,
  type FakeIdpKey,
  fakeIdpKey,
  OIDC_DISCOVERY,
  serveJson,
  serveKeys,
  signJwt,
  startFakeIdp,
} from '../support/fake-idp.js';
import { sendJson, startStubServer } from '../support/http.js';
import { testClock } from '../support/idp.js';
import { closedLater, closeVerifiers } from '../support/verifier-for.js';

const APP = 'app-client-1example';
const OTHER = 'app-client-9other';
const API = 'https://api.example.com';
const ABSENT = Symbol('absent');
type Value = unknown | typeof ABSENT;

const variants: Record<'aud' | 'client_id' | 'token_use', Value[]> = {
  aud: [ABSENT, APP, API, OTHER, [OTHER, APP], [API], 1, null],
  client_id: [ABSENT, APP, OTHER, API, [APP], 7, null],
  token_use: [ABSENT, 'access', 'id', 'ACCESS', 'access ', '', null, ['access'], 1],
};

let idp: FakeIdp;
let key: FakeIdpKey;
const clock = testClock(Date.UTC(2030, 0, 1));
beforeAll(async () => {
  key = await fakeIdpKey('RS256', 'k1');
  idp = await startFakeIdp((base) => ({
    routes: {
      [OIDC_DISCOVERY]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }),
      '/keys': serveKeys(() => [key.jwk]),
    },
  }));
});
afterAll(async () => {
  await closeVerifiers();
  await closeFakeIdps();
});

let jti = 0;
function token(values: Record<string, Value>): Promise<string> {
  const iat = Math.floor(clock() / 1000);
  const claims: Record<string, unknown> = { iss: idp.issuer, sub: 'alice', iat, exp: iat + 600, jti: `a-${++jti}` };
  for (const [name, value] of Object.entries(values)) if (value !== ABSENT) claims[name] = value;
  return signJwt(key, { typ: undefined }, claims);
}

function* combinations(): Generator<Record<string, Value>> {
  for (const aud of variants.aud)
    for (const client_id of variants.client_id)
      for (const token_use of variants.token_use) yield { aud, client_id, token_use };
}
const show = (values: Record<string, Value>) =>
  JSON.stringify(Object.fromEntries(Object.entries(values).filter(([, value]) => value !== ABSENT)));

describe.each<[AudienceClaim, string[]]>([
  ['aud', [API]],
  ['client_id', [APP]],
])('audienceClaim %s', (audienceClaim, audience) => {
  const build = (): Verifier =>
    closedLater(
      createVerifier({
        issuer: idp.issuer,
        audience,
        audienceClaim,
        jwks: { keys: [key.jwk] },
        clock,
        cache: false,
        logger: false,
      }),
    );

  /** The rule as documented, computed apart: our audience in the configured claim; token_use absent or "access". */
  const ours = ({ aud, client_id, token_use }: Record<string, Value>): boolean =>
    (token_use === ABSENT || token_use === 'access') &&
    (audienceClaim === 'aud' ? aud === API || (Array.isArray(aud) && aud.includes(API)) : client_id === APP);

  it('revoke() calls a token ours exactly by the rule; verify() accepts none it would not revoke', async () => {
    const verifying = build();
    const revoking = build(); // a fresh instance: ownership by signature and claims alone
    const disagreements: string[] = [];
    let accepted = 0;
    for (const values of combinations()) {
      const jwt = await token(values);
      const verified = await verifying.verify(jwt).then(
        () => true,
        () => false,
      );
      const owned = (await revoking.revoke(jwt)).local === 'denylisted';
      if (verified) accepted += 1;
      // A token accepted but not revocable would be a session no logout can end; a token of
      // another audience or an ID token denylisted would be an entry anyone could create.
      if (owned !== ours(values) || (verified && !owned))
        disagreements.push(`${show(values)}: verify ${verified}, revoke ${owned}, rule ${ours(values)}`);
    }
    expect(disagreements).toEqual([]);
    // verify() also wants a string client_id when there is one (claim types), whatever the mode.
    expect(accepted).toBe(audienceClaim === 'aud' ? 2 * 4 * 2 : 8 * 1 * 2);
  });

  it('the doctor calls the audience ok exactly by the rule, and never fails one the verifier accepts', async () => {
    const disagreements: string[] = [];
    for (const values of combinations()) {
      const report = await runDoctor({
        issuer: idp.issuer,
        audience,
        audienceClaim,
        token: await token(values),
        clock,
        allowHttp: true,
      });
      const said = report.checks.find((c) => c.id === 'token.audience')!;
      const verdict = report.checks.find((c) => c.id === 'token.verdict')!;
      if ((said.status === 'ok') !== ours(values) || (verdict.status === 'ok' && said.status !== 'ok'))
        disagreements.push(`${show(values)}: doctor ${said.status} (${said.summary}), verdict ${verdict.summary}`);
    }
    expect(disagreements).toEqual([]);
  });
});

describe('an introspection answer (opaque tokens)', () => {
  // SECURITY.md: a token_use other than "access" is refused in every mode. The IdP's answer for an
  // ID token it introspects says so as plainly as the token would: verify() and revoke() refuse it.
  it('with a token_use other than "access": refused by verify(), not ours to revoke(); "access" or none passes', async () => {
    const uses: Value[] = [ABSENT, 'access', 'id', 'ACCESS', '', null, ['access']];
    const endpoint = await startStubServer((_req, res, body) => {
      const index = Number(new URLSearchParams(body).get('token')!.split('-').at(-1));
      const exp = Math.floor(clock() / 1000) + 600;
      const answer: Record<string, unknown> = { active: true, iss: idp.issuer, aud: API, sub: 'alice', exp };
      if (uses[index] !== ABSENT) answer.token_use = uses[index];
      sendJson(res, 200, answer);
    });
    try {
      const build = () =>
        closedLater(
          createVerifier({
            issuer: idp.issuer,
            audience: API,
            jwks: { keys: [key.jwk] },
            introspection: { clientId: 'api', clientSecret: 'api-secret', endpoint: `${endpoint.url}/introspect` },
            clock,
            logger: false,
          }),
        );
      const verifying = build();
      const revoking = build();
      const answers: string[] = [];
      for (const [index, use] of uses.entries()) {
        const opaque = `opaque-token-value-${index}`;
        const verified = await verifying.verify(opaque).then(
          () => 'accepted',
          (error: { reason: string }) => error.reason,
        );
        answers.push(
          `${JSON.stringify(use === ABSENT ? 'absent' : use)}: ${verified}, ${(await revoking.revoke(opaque)).local}`,
        );
      }
      expect(answers).toEqual([
        '"absent": accepted, denylisted',
        '"access": accepted, denylisted',
        '"id": type_mismatch, not_ours',
        '"ACCESS": type_mismatch, not_ours',
        '"": type_mismatch, not_ours',
        'null: type_mismatch, not_ours',
        '["access"]: type_mismatch, not_ours',
      ]);
    } finally {
      await endpoint.close();
    }
  });
});
