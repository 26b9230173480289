/**
 * Installs the packed tarball the way a user would (only what `files` ships) and loads it from a
 * CommonJS file and from an ES module, each verifying a real token from the embedded IdP, through
 * the root and through the `revocable-jwt/express` and `revocable-jwt/fetch` entry points.
 * Needs `dist/` (built by `npm test` before jest runs).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startIdp, type EmbeddedIdp } from '../support/idp.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
let workdir: string;
let idp: EmbeddedIdp;

beforeAll(async () => {
  if (!existsSync(join(root, 'dist/index.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm test does) first');
  workdir = await mkdtemp(join(tmpdir(), 'revocable-jwt-consumer-'));
  await run('npm', ['pack', '--silent', '--pack-destination', workdir], { cwd: root });
  const tarball = (await readdir(workdir)).find((f) => f.endsWith('.tgz'))!;
  const installed = join(workdir, 'node_modules/revocable-jwt');
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', join(workdir, tarball), '-C', installed, '--strip-components=1']);
  // Runtime dependencies come from our own node_modules (no registry access needed).
  const { dependencies } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const dep of Object.keys(dependencies)) {
    await mkdir(dirname(join(workdir, 'node_modules', dep)), { recursive: true });
    await symlink(join(root, 'node_modules', dep), join(workdir, 'node_modules', dep));
  }
  for (const file of ['consumer.cjs', 'consumer.mjs'])
    await copyFile(join(import.meta.dirname, 'fixtures', file), join(workdir, file));
  idp = await startIdp();
}, 60_000);

afterAll(async () => {
  await idp?.close();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships only dist, README and package.json', async () => {
    const files = await readdir(join(workdir, 'node_modules/revocable-jwt'));
    expect(files.sort()).toEqual(expect.arrayContaining(['dist', 'package.json']));
    expect(files).not.toContain('src');
    expect(files).not.toContain('test');
    expect(existsSync(join(workdir, 'node_modules/revocable-jwt/dist/index.d.ts'))).toBe(true);
  });

  it.each([
    ['consumer.cjs', 'cjs'],
    ['consumer.mjs', 'esm'],
  ])(
    'loads from %s, with the /express, /fetch and /postgres entry points, and verifies a real token',
    async (file, kind) => {
      const token = await idp.issueAccessToken();
      const { stdout, stderr } = await run(process.execPath, [file], {
        cwd: workdir,
        env: { PATH: process.env.PATH, ISSUER: idp.issuer, AUDIENCE: idp.audience, TOKEN: token },
      });
      const sub = idp.client.clientId;
      // `express`: the subpath exports the very functions the root does; `fetch`: its guard admitted the token.
      const postgres = 'revocable-jwt: createPostgresStore needs the optional peer dependency pg: npm install pg';
      expect(JSON.parse(stdout)).toEqual({
        kind,
        sub,
        guard: 'function',
        rejected: true,
        express: true,
        fetch: sub,
        postgres,
      });
      expect(stderr).not.toMatch(/Error/);
    },
  );
});
