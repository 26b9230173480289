import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { authGuard, createMemoryStore, createPrometheusMetrics, createVerifier } from '../../src/index.js';
import { startIdp, type EmbeddedIdp } from '../support/idp.js';

let idp: EmbeddedIdp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(() => idp.close());

const value = (text: string, line: string) => {
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found === undefined ? undefined : Number(found.slice(line.length).trim());
};

describe('createPrometheusMetrics', () => {
  it('exports request, cache, JWKS, revocation and propagation metrics', async () => {
    const store = createMemoryStore();
    const verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, store });
    const peer = createVerifier({ issuer: idp.issuer, audience: idp.audience, store });
    const metrics = createPrometheusMetrics({ verifier });
    const app = express()
      .get('/metrics', async (_req, res) => {
        res.type(metrics.contentType).send(await metrics.metrics());
      })
      .use(authGuard({ verifier }))
      .get('/', (_req, res) => res.send('ok'));
    const token = await idp.issueAccessToken();
    await request(app).get('/').auth(token, { type: 'bearer' });
    await request(app).get('/').auth(token, { type: 'bearer' });
    await request(app).get('/');
    await peer.invalidate(token); // arrives through the store
    await request(app).get('/').auth(token, { type: 'bearer' });

    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    const text = res.text;
    expect(value(text, 'revocable_jwt_requests_total{result="accepted",reason="",cached="false"}')).toBe(1);
    expect(value(text, 'revocable_jwt_requests_total{result="accepted",reason="",cached="true"}')).toBe(1);
    expect(value(text, 'revocable_jwt_requests_total{result="rejected",reason="missing_token",cached=""}')).toBe(1);
    expect(value(text, 'revocable_jwt_requests_total{result="rejected",reason="revoked",cached=""}')).toBe(1);
    expect(value(text, 'revocable_jwt_revocations_total{type="token",source="store"}')).toBe(1);
    expect(value(text, 'revocable_jwt_revocation_propagation_seconds_count')).toBe(1);
    expect(value(text, 'revocable_jwt_jwks_fetches_total')).toBe(1);
    // The revoked token was still found in the cache (then refused): two lookups hit.
    expect(value(text, 'revocable_jwt_cache_hits_total')).toBe(2);
    expect(value(text, 'revocable_jwt_denylist_entries')).toBe(1);
    expect(value(text, 'revocable_jwt_store_up')).toBe(1);

    metrics.close();
    expect((await metrics.metrics()).trim()).toBe('');
    await verifier.close();
    await peer.close();
  });
});
