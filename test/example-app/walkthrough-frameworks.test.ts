/**
 * The walkthrough on the other variants of the notes API (`--framework fastify|hono`): the same
 * steps, run as a user would (a separate process that must exit 0), must behave the same on each.
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

describe('example-app walkthrough on other frameworks', () => {
  it.each(['fastify', 'hono'])(
    '--framework %s runs every step and exits 0',
    async (framework) => {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'example-app/main.ts', '--framework', framework],
        {
          cwd: root,
          env: { PATH: process.env.PATH },
          timeout: 60_000,
        },
      );
      expect(stdout).toMatch(new RegExp(`notes API +http://127\\.0\\.0\\.1:\\d+ \\(${framework}\\)`));
      expect(stdout).toContain('Walkthrough complete: every step behaved as expected.');
      expect(stdout).not.toContain('UNEXPECTED');
      expect(stdout).toMatch(/POST \/notes with a notes:read token: HTTP 403/);
      expect(stdout).toContain('error="insufficient_scope"');
      expect(stdout).toMatch(/GET \/notes with the revoked token: HTTP 401/);
      expect(stdout).toContain('{"active":false}');
      expect(stdout).toMatch(/as alice after the IdP ended her session: HTTP 401/);
      expect(stdout).toMatch(/revocable_jwt_requests_total\{result="accepted"/);
    },
    60_000,
  );

  it('refuses an unknown framework with exit code 2', async () => {
    const failed = await run(process.execPath, ['--import', 'tsx', 'example-app/main.ts', '--framework', 'koa'], {
      cwd: root,
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    }).catch((error: { code?: number; stderr?: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr?: string }).stderr).toContain('--framework takes one of express, fastify, hono');
  }, 30_000);
});
