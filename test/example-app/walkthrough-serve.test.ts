/**
 * `npm start -- --serve` prints how to try the API by hand: a `curl` for a token at the embedded
 * IdP's token endpoint, then calls to the API with it and the logout. Those commands must work as
 * printed: they are run here through bash and curl (when curl is on the PATH), and always as the
 * HTTP requests they stand for, read from the printed words. And steps are numbered as shown: with
 * your own IdP (here: the embedded one, started apart and passed in as ISSUER), the steps it cannot
 * show take no number.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { type EmbeddedIdp, startIdp } from '../support/idp.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const hasCurl = spawnSync('curl', ['--version']).status === 0;

/** The step numbers a walkthrough printed, in order. */
const stepNumbers = (stdout: string) => [...stdout.matchAll(/^\[(\d+)\] /gm)].map((m) => Number(m[1]));

/** The commands under "Try it with curl:", continuation lines joined, comments dropped. */
function printedCommands(stdout: string): string[] {
  const block = stdout.slice(stdout.indexOf('Try it with curl:\n') + 'Try it with curl:\n'.length);
  const lines = block.slice(0, block.indexOf('\n\n')).split('\n');
  return lines
    .map((line) => line.replace(/^ {2}/, ''))
    .join('\n')
    .replace(/ \\\n\s*/g, ' ')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Shell words of a command as bash reads ours: single quotes, double quotes (with $TOKEN), plain words. */
function words(command: string, env: Record<string, string>): string[] {
  const out: string[] = [];
  for (const match of command.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const [, single, double, plain] = match;
    if (single !== undefined) out.push(single);
    else if (double !== undefined) out.push(double.replace(/\$(\w+)/g, (_, name: string) => env[name] ?? ''));
    else out.push(plain!.replace(/\$(\w+)/g, (_, name: string) => env[name] ?? ''));
  }
  return out;
}

/** A curl command of the kinds printed, sent with fetch: the status and body it gets. */
async function asRequest(args: string[]): Promise<{ status: number; body: string }> {
  expect(args[0]).toBe('curl');
  const headers = new Headers();
  const form: string[] = [];
  let raw: string | undefined;
  let method: string | undefined;
  let url: string | undefined;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => args[++i]!;
    if (arg === '-sS' || arg === '-i') continue;
    if (arg === '-w') value();
    else if (arg === '-u') headers.set('authorization', `Basic ${Buffer.from(value()).toString('base64')}`);
    else if (arg === '-H') {
      const [name, ...rest] = value().split(':');
      headers.set(name!, rest.join(':').trim());
    } else if (arg === '-X') method = value();
    else if (arg === '-d') form.push(value()) && (raw = form.join('&'));
    else if (arg === '--data-urlencode') {
      const [name, ...rest] = value().split('=');
      form.push(`${name}=${encodeURIComponent(rest.join('='))}`);
      raw = form.join('&');
    } else if (!arg.startsWith('-')) url = arg;
    else throw new Error(`an option the printed commands do not use: ${arg}`);
  }
  if (raw !== undefined && !headers.has('content-type'))
    headers.set('content-type', 'application/x-www-form-urlencoded');
  const response = await fetch(url!, { method: method ?? (raw === undefined ? 'GET' : 'POST'), headers, body: raw });
  return { status: response.status, body: await response.text() };
}

describe('npm start -- --serve', () => {
  let child: ChildProcess;
  let stdout = '';
  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'example-app/main.ts', '--serve'], {
      cwd: root,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no curl commands printed:\n${stdout}`)), 60_000);
      child.stdout!.on('data', () => {
        if (!stdout.includes('Ctrl-C stops the API and the IdP.')) return;
        clearTimeout(timer);
        done();
      });
      child.on('exit', (code) => fail(new Error(`the walkthrough exited (${code}) before serving:\n${stdout}`)));
    });
  }, 70_000);
  afterAll(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGINT'); // the walkthrough's own handler closes the API, the verifier and the IdP
    await exited;
    expect(child.exitCode).toBe(0);
  });

  it('completes the walkthrough, numbering every step, then prints a token request and the API calls', () => {
    expect(stdout).toContain('Walkthrough complete: every step behaved as expected.');
    expect(stepNumbers(stdout)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const commands = printedCommands(stdout);
    expect(commands).toHaveLength(5);
    expect(commands[0]).toMatch(
      /^TOKEN=\$\(curl -sS -u notes-api:notes-api-secret-that-is-long-enough -d grant_type=client_credentials --data-urlencode 'scope=notes:read notes:write' --data-urlencode resource=http:\/\/127\.0\.0\.1:\d+\/notes-api http:\/\/127\.0\.0\.1:\d+\/token \| node -pe '.*'\)$/,
    );
    expect(commands.slice(1).every((command) => command.includes('-H "Authorization: Bearer $TOKEN"'))).toBe(true);
  });

  it('whose requests work: a JWT the API accepts, notes read and written, logout, then 401', async () => {
    const [tokenCommand, ...calls] = printedCommands(stdout);
    // TOKEN=$(curl … | node -pe '…access_token'): the request, then what the pipe reads from its answer.
    const inner = tokenCommand!.slice('TOKEN=$('.length, -1);
    const [request, pipe] = inner.split(' | ');
    expect(pipe).toBe(`node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).access_token'`);
    const issued = await asRequest(words(request!, {}));
    expect(issued.status).toBe(200);
    const env = { TOKEN: (JSON.parse(issued.body) as { access_token: string }).access_token };
    expect(env.TOKEN.split('.')).toHaveLength(3); // a JWT, verified locally by the API

    const answers = [];
    for (const call of calls) answers.push(await asRequest(words(call, env)));
    expect(answers.map((a) => a.status)).toEqual([200, 201, 200, 401]);
    expect(JSON.parse(answers[1]!.body)).toMatchObject({ text: 'from curl' });
    expect(JSON.parse(answers[2]!.body)).toEqual({ revoked: true });
    expect(JSON.parse(answers[3]!.body)).toEqual({
      error: 'invalid_token',
      error_description: 'The access token has been revoked',
    });
  }, 30_000);

  (hasCurl ? it : it.skip)(
    'as printed, through bash and curl',
    async () => {
      // The printed commands, unchanged, one after the other; a marker between their outputs.
      const script = ['set -euo pipefail', ...printedCommands(stdout).flatMap((c) => [c, "printf '\\n::next\\n'"])];
      const { stdout: out } = await run('bash', ['-c', script.join('\n')], { env: { PATH: process.env.PATH } });
      const outputs = out.split('\n::next\n').slice(1, -1); // the token line prints nothing
      expect(outputs.map((o) => o.match(/^HTTP\/[\d.]+ (\d{3})/)?.[1])).toEqual(['200', '201', '200', '401']);
      expect(outputs[3]).toMatch(/^WWW-Authenticate: Bearer realm="api", error="invalid_token"/m);
    },
    30_000,
  );
});

describe('npm start with your own IdP', () => {
  let idp: EmbeddedIdp;
  beforeAll(async () => {
    idp = await startIdp();
  }, 30_000);
  afterAll(() => idp.close());

  it('numbers the steps it shows 1, 2, 3 … with none skipped in between', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'example-app/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        ISSUER: idp.issuer,
        AUDIENCE: idp.audience,
        CLIENT_ID: idp.client.clientId,
        CLIENT_SECRET: idp.client.clientSecret,
        SCOPE: 'notes:read notes:write',
      },
      timeout: 60_000,
    });
    expect(stdout).toContain('Walkthrough complete: every step behaved as expected.');
    expect(stdout).toContain('Using your IdP');
    // Two steps need the embedded IdP and are left out; the two that say "skipped" are shown.
    expect(stepNumbers(stdout)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(stdout).toMatch(/\[10\] Metrics \(Prometheus\) at GET \/metrics/);
    expect(stdout.match(/skipped/g)).toHaveLength(2);
  }, 60_000);
});
