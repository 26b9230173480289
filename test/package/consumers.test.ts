/**
 * Installs the packed tarball the way a user would (only what `files` ships) and loads it from a
 * CommonJS file and from an ES module, each verifying a real token from the embedded IdP, through
 * the root and through the `revocable-jwt/express` and `revocable-jwt/fetch` entry points; and
 * compiles CommonJS TypeScript consumers (`.cts`) against it as a user's `tsc` would, then runs them.
 * Needs `dist/` (built by `npm test` before jest runs).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { startIdp, type EmbeddedIdp } from '../support/idp.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
let workdir: string;
let idp: EmbeddedIdp;

beforeAll(async () => {
  if (!existsSync(join(root, 'dist/index.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm test does) first');
  workdir = await mkdtemp(join(tmpdir(), 'revocable-jwt-consumer-'));
  // --ignore-scripts: `prepack` would rebuild dist/ (rm -rf first) under the tests reading it now.
  await run('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', workdir], { cwd: root });
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
  for (const file of ['consumer.cjs', 'consumer.mjs', 'consumer.cts', 'consumer-node16.cts'])
    await copyFile(join(import.meta.dirname, 'fixtures', file), join(workdir, file));
  idp = await startIdp();
}, 60_000);

afterAll(async () => {
  await idp?.close();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships only dist, the Markdown docs the README links, README, LICENSE, SECURITY.md and package.json', async () => {
    const files = await readdir(join(workdir, 'node_modules/revocable-jwt'));
    expect(files.sort()).toEqual(['LICENSE', 'README.md', 'SECURITY.md', 'dist', 'docs', 'package.json']);
    // The guides and references the README links to, and nothing else of docs/ (not the generated API pages).
    const docs = await readdir(join(workdir, 'node_modules/revocable-jwt/docs'));
    expect(docs.sort()).toEqual((await readdir(join(root, 'docs'))).filter((file) => file.endsWith('.md')).sort());
    const readme = await readFile(join(workdir, 'node_modules/revocable-jwt/README.md'), 'utf8');
    for (const [, linked] of readme.matchAll(/\]\((docs\/[^)#]+\.md)/g))
      expect(existsSync(join(workdir, 'node_modules/revocable-jwt', linked!))).toBe(true);
    expect(existsSync(join(workdir, 'node_modules/revocable-jwt/dist/index.d.ts'))).toBe(true);
    // No maps: they would point at src/, which does not ship.
    const dist = await readdir(join(workdir, 'node_modules/revocable-jwt/dist'), { recursive: true });
    expect(dist.filter((file) => file.endsWith('.map'))).toEqual([]);
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

  /** Compiles `files` (in workdir) with `module` as a user's tsc would; the diagnostics, as `TSnnnn file`. */
  function compile(files: string[], module: 'Node16' | 'Node20' | 'NodeNext'): string[] {
    const program = ts.createProgram(
      files.map((file) => join(workdir, file)),
      {
        module: ts.ModuleKind[module],
        moduleResolution: module === 'Node16' ? ts.ModuleResolutionKind.Node16 : ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        skipLibCheck: true,
        outDir: join(workdir, `out-${module}`),
        // @types/node for `process`, from our own node_modules (the consumer's would be its own).
        typeRoots: [join(root, 'node_modules/@types')],
        types: ['node'],
      },
    );
    const diagnostics = [...ts.getPreEmitDiagnostics(program), ...program.emit().diagnostics];
    return diagnostics.map((d) => `TS${d.code} ${d.file ? d.file.fileName.slice(workdir.length + 1) : ''}`);
  }

  it.each(['Node20', 'NodeNext'] as const)(
    'type-checks a .cts file that requires the package under module %s, and it verifies a real token',
    async (module) => {
      expect(compile(['consumer.cts'], module)).toEqual([]);
      const token = await idp.issueAccessToken();
      const { stdout } = await run(process.execPath, [join(workdir, `out-${module}/consumer.cjs`)], {
        cwd: workdir,
        env: { PATH: process.env.PATH, ISSUER: idp.issuer, AUDIENCE: idp.audience, TOKEN: token },
      });
      const sub = idp.client.clientId;
      expect(JSON.parse(stdout)).toEqual({ kind: 'cts', sub, rejected: true, fetch: sub });
    },
  );

  it('under module node16, refuses that require (TS1479, as the README says) and takes the dynamic-import form', async () => {
    // What README "Module format" tells a node16 project: this error, and the form below.
    expect(compile(['consumer.cts'], 'Node16')).toEqual(['TS1479 consumer.cts', 'TS1471 consumer.cts']);
    expect(compile(['consumer-node16.cts'], 'Node16')).toEqual([]);
    const token = await idp.issueAccessToken();
    const { stdout } = await run(process.execPath, [join(workdir, 'out-Node16/consumer-node16.cjs')], {
      cwd: workdir,
      env: { PATH: process.env.PATH, ISSUER: idp.issuer, AUDIENCE: idp.audience, TOKEN: token },
    });
    expect(JSON.parse(stdout)).toEqual({ kind: 'cts-node16', sub: idp.client.clientId, rejected: true });
  });

  it('runs its `revocable-jwt` executable: doctor passes against the IdP and explains a refused token', async () => {
    const installed = join(workdir, 'node_modules/revocable-jwt');
    const { bin } = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    const executable = join(installed, bin['revocable-jwt']!);
    expect((await readFile(executable, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    const token = await idp.issueAccessToken();
    const doctor = (audience: string) =>
      new Promise<{ code: number | null; stdout: string }>((resolvePromise, reject) => {
        const args = ['doctor', '--issuer', idp.issuer, '--audience', audience, '--token', '-', '--json'];
        const child = execFile(process.execPath, [executable, ...args], { cwd: workdir }, (error, stdout) => {
          if (error && typeof error.code !== 'number') reject(error);
          else resolvePromise({ code: child.exitCode, stdout });
        });
        child.stdin!.end(token);
      });
    const good = await doctor(idp.audience);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, issuer: idp.issuer });
    const wrong = await doctor('https://another-api.example');
    expect(wrong.code).toBe(1);
    const verdict = (JSON.parse(wrong.stdout) as { checks: Array<{ id: string; data?: object }> }).checks.find(
      (c) => c.id === 'token.verdict',
    );
    expect(verdict?.data).toMatchObject({ reason: 'audience_mismatch' });
  });
});
