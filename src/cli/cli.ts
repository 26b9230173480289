/**
 * The `revocable-jwt` command line: arguments in, an exit code out (0 all good, 1 a check failed,
 * 2 a usage error). Everything it touches comes in through `io`, so tests run it in process.
 */
import { parseArgs } from 'node:util';
import { type DoctorOptions, runDoctor } from './doctor.js';
import { renderHuman, renderJson } from './render.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The whole of standard input, for `--token -`. */
  readStdin: () => Promise<string>;
  /** Colour the human output (a terminal, no NO_COLOR). */
  color: boolean;
  /** For tests: what runDoctor() gets besides the parsed options. */
  doctor?: Pick<DoctorOptions, 'fetch' | 'clock'>;
}

export const USAGE = `Usage: revocable-jwt doctor --issuer <url> --audience <aud> [options]

Checks a revocable-jwt configuration against the live IdP: discovery (and why an issuer does not
match), the JWKS, the IdP's clock, its revocation, introspection and back-channel logout support;
given a token, why the verifier would accept or refuse it.

Options:
  --issuer <url>           the issuer, exactly as you would configure it (required)
  --audience <aud>         your API's audience; repeat for several (required)
  --audience-claim <claim> the claim holding the audience: aud (default) or client_id
                           (Amazon Cognito access tokens, as the verifier's \`audienceClaim\`)
  --token <jwt>            a token to explain; "-" reads it from standard input
  --typ <typ>              require this typ header, e.g. at+jwt (as the verifier's \`typ\`)
  --clock-tolerance <s>    leeway on token times, in seconds (default 5)
  --timeout <s>            each request to the IdP, in seconds (default 5)
  --allow-http             allow plain http on non-loopback hosts
  --json                   machine-readable output
  --no-color               no colours
  -h, --help               this text

Exit code: 0 when every check passed (warnings allowed), 1 when one failed, 2 on a usage error.
`;

class UsageError extends Error {}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let options: DoctorOptions & { json: boolean; color: boolean };
  try {
    const parsed = parse(argv);
    if (parsed === 'help') {
      io.stdout(USAGE);
      return 0;
    }
    options = parsed;
    if (options.token === '-') options.token = (await io.readStdin()).trim();
  } catch (error) {
    if (!(error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) throw error;
    io.stderr(`revocable-jwt: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const report = await runDoctor({ ...options, ...io.doctor });
  io.stdout(options.json ? renderJson(report) : renderHuman(report, { color: io.color && options.color }));
  return report.ok ? 0 : 1;
}

function parse(argv: readonly string[]): (DoctorOptions & { json: boolean; color: boolean }) | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      issuer: { type: 'string' },
      audience: { type: 'string', multiple: true },
      'audience-claim': { type: 'string' },
      token: { type: 'string' },
      typ: { type: 'string' },
      'clock-tolerance': { type: 'string' },
      timeout: { type: 'string' },
      'allow-http': { type: 'boolean' },
      json: { type: 'boolean' },
      'no-color': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0 || (positionals.length === 1 && positionals[0] === 'help')) return 'help';
  if (positionals[0] !== 'doctor') throw new UsageError(`unknown command ${JSON.stringify(positionals[0])}`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  if (values.issuer === undefined || values.issuer === '') throw new UsageError('--issuer is required');
  if (values.audience === undefined || values.audience.some((a) => a === ''))
    throw new UsageError('--audience is required');
  const audienceClaim = values['audience-claim'];
  if (audienceClaim !== undefined && audienceClaim !== 'aud' && audienceClaim !== 'client_id')
    throw new UsageError('--audience-claim takes aud or client_id');
  return {
    issuer: values.issuer,
    audience: values.audience,
    audienceClaim,
    token: values.token,
    typ: values.typ,
    timeout: seconds(values.timeout, '--timeout'),
    clockTolerance: seconds(values['clock-tolerance'], '--clock-tolerance'),
    allowHttp: values['allow-http'] === true,
    json: values.json === true,
    color: values['no-color'] !== true,
  };
}

function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0)
    throw new UsageError(`${flag} must be a number of seconds, e.g. ${flag} 2`);
  return number;
}
