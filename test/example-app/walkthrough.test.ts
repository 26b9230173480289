/** `npm start`'s walkthrough, run as a user would run it: a separate process that must exit 0. */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

describe('example-app walkthrough', () => {
  it('runs every step against the embedded IdP and exits 0', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'example-app/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH },
      timeout: 60_000,
    });
    expect(stdout).toContain('Walkthrough complete: every step behaved as expected.');
    expect(stdout).not.toContain('UNEXPECTED');
    expect(stdout).toMatch(/without token: HTTP 401/);
    expect(stdout).toMatch(/forged token: HTTP 401/);
    expect(stdout).toMatch(/expired token: HTTP 401/);
    expect(stdout).toContain('error="invalid_token"');
    // Logout, then the same token: refused by us, still accepted by a plain local verifier.
    expect(stdout).toMatch(/POST \/logout: HTTP 200/);
    expect(stdout).toMatch(/GET \/notes with the revoked token: HTTP 401/);
    expect(stdout).toContain('error_description="The access token has been revoked"');
    expect(stdout).toMatch(/plain jose jwtVerify on the same token: ACCEPTED/);
    expect(stdout).toContain('{"active":false}');
    // The IdP ends alice's session; her token is refused. Metrics are exposed.
    expect(stdout).toMatch(/as alice after the IdP ended her session: HTTP 401/);
    expect(stdout).toMatch(/revocable_jwt_requests_total\{result="accepted"/);
  }, 60_000);
});
