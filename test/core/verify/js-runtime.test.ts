/**
 * The runtime is told apart by what each one sets (js-runtime.ts), from the globals the pinned
 * runtimes were seen to have (test:runtimes checks the real ones: each reports its backend), and
 * the backend choice follows it (jws-backend.ts).
 */
import { describe, expect, it } from '@jest/globals';
import { type JsRuntime, jsRuntime } from '../../../src/core/verify/js-runtime.js';
import { defaultJwsBackend, NODE_CRYPTO_RUNTIMES } from '../../../src/core/verify/jws-backend.js';

const process = (versions: Record<string, string>) => ({ versions });

describe('jsRuntime', () => {
  it.each<[string, Parameters<typeof jsRuntime>[0], JsRuntime]>([
    ['Node 20 (no navigator)', { process: process({ node: '20.19.0' }) }, 'node'],
    ['Node 22', { process: process({ node: '22.23.3' }), navigator: { userAgent: 'Node.js/22' } }, 'node'],
    [
      'Bun (says it is Node 26)',
      { process: process({ node: '26.3.0', bun: '1.4.5' }), navigator: { userAgent: 'Bun/1.4.5' } },
      'bun',
    ],
    [
      'Deno (says it is Node 26)',
      { process: process({ node: '26.3.0', deno: '2.9.6' }), navigator: { userAgent: 'Deno/2.9.6' } },
      'deno',
    ],
    [
      'workerd with nodejs_compat (says it is Node 22)',
      { process: process({ node: '22.19.0' }), navigator: { userAgent: 'Cloudflare-Workers' } },
      'other',
    ],
    ['workerd without nodejs_compat', { navigator: { userAgent: 'Cloudflare-Workers' } }, 'other'],
    ['a browser', { navigator: { userAgent: 'Mozilla/5.0' } }, 'other'],
    [
      'a process with a non-string user agent',
      { process: process({ node: '22.0.0' }), navigator: { userAgent: 1 } },
      'other',
    ],
    ['nothing', {}, 'other'],
  ])('%s → %s', (_name, globals, runtime) => {
    expect(jsRuntime(globals)).toBe(runtime);
  });

  it('is node here, and a verifier here checks signatures with node:crypto', () => {
    expect(jsRuntime()).toBe('node');
    expect(defaultJwsBackend().name).toBe('node:crypto');
  });
});

describe('NODE_CRYPTO_RUNTIMES', () => {
  it('names the runtimes whose node:crypto the differential corpus holds equal to WebCrypto, and faster', () => {
    expect([...NODE_CRYPTO_RUNTIMES].sort()).toEqual(['bun', 'node']);
  });
});
