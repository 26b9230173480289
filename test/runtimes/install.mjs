#!/usr/bin/env node
/**
 * Installs the runtimes the tests run on, from the npm registry, each in its own folder under
 * .cache/runtimes/ (one prefix per runtime: the `node` package's bin is `node` for every major,
 * and none of them may shadow the Node that runs npm scripts, so they are never devDependencies):
 * the Node jest runs on (`npm test`, see jest.mjs), the engines floor for `npm run test:engines`,
 * and those of `npm run test:runtimes`. Versions are exact, for runs that do not drift. A runtime
 * already installed at its version is not asked for again (the warm run makes no network call).
 *
 * Usage: node test/runtimes/install.mjs  → installs every runtime, says which were cached.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CACHE = join(root, '.cache/runtimes');

/**
 * Each runtime: the folder it installs into, the package and its exact version, the binary it
 * brings, and the packages whose install scripts it needs (`scripts`: they fetch or place the
 * platform binary), approved through npm's `allowScripts` in the folder's own package.json.
 */
export const RUNTIMES = [
  // The floor of `engines` (20.19: require(esm) without a flag); Node 20 is past end of life.
  { name: 'node20', pkg: 'node', version: '20.19.0', bin: 'node', scripts: ['node'] },
  { name: 'node22', pkg: 'node', version: '22.23.3', bin: 'node', scripts: ['node'] },
  { name: 'node24', pkg: 'node', version: '24.21.0', bin: 'node', scripts: ['node'] },
  { name: 'bun', pkg: 'bun', version: '1.4.5', bin: 'bun', scripts: ['bun'] },
  { name: 'deno', pkg: 'deno', version: '2.9.6', bin: 'deno', scripts: ['deno'] },
  { name: 'workerd', pkg: 'miniflare', version: '4.20260730.0', bin: undefined, scripts: ['workerd'] },
];

/**
 * The Node `npm test` runs jest on: the newest LTS line the npm registry's `node` package offers
 * (26.x is there too, but still "Current": it becomes LTS in October 2026 with a later release).
 */
export const TEST_NODE = 'node24';

/** The runtime called `name` (`node24`, `bun`, …); a TypeError naming the choices otherwise. */
export function runtimeNamed(name) {
  const runtime = RUNTIMES.find((r) => r.name === name);
  if (runtime === undefined) {
    throw new TypeError(`unknown runtime ${JSON.stringify(name)}: one of ${RUNTIMES.map((r) => r.name).join(', ')}`);
  }
  return runtime;
}

/** The folder of `runtime`'s install, and its binary (or, for workerd, the miniflare module). */
export function locate(runtime) {
  const prefix = join(CACHE, runtime.name);
  return {
    prefix,
    bin: runtime.bin && join(prefix, 'node_modules/.bin', runtime.bin),
    module: join(prefix, 'node_modules', runtime.pkg),
  };
}

function installed(runtime) {
  const manifest = join(locate(runtime).module, 'package.json');
  return existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).version === runtime.version;
}

export function install(runtime) {
  if (installed(runtime)) return false;
  const { prefix } = locate(runtime);
  mkdirSync(prefix, { recursive: true });
  // npm 11 runs dependency install scripts with a notice, and a later npm not at all, unless
  // `allowScripts` approves them (`--allow-scripts` is refused in a folder install): approve the
  // ones this runtime needs, by name, here.
  const allowScripts = Object.fromEntries(runtime.scripts.map((name) => [name, true]));
  writeFileSync(join(prefix, 'package.json'), `${JSON.stringify({ private: true, allowScripts }, null, 2)}\n`);
  try {
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        `${runtime.pkg}@${runtime.version}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  } catch (cause) {
    // Offline before the first install, most likely: say what was needed and where it goes.
    throw new Error(
      `could not install ${runtime.pkg}@${runtime.version} from the npm registry into ${prefix} ` +
        '(it is fetched once, then cached there)',
      { cause },
    );
  }
  if (!installed(runtime)) throw new Error(`${runtime.pkg}@${runtime.version} did not install into ${prefix}`);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const runtime of RUNTIMES) {
    const started = performance.now();
    const fresh = install(runtime);
    const took = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${runtime.name}: ${runtime.pkg}@${runtime.version} ${fresh ? `installed in ${took} s` : 'cached'}`);
  }
}
