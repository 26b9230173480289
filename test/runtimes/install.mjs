#!/usr/bin/env node
/**
 * Installs the runtimes `npm run test:runtimes` runs on, from the npm registry, each in its own
 * folder under .cache/runtimes/ (one prefix per runtime: the `node` package's bin is `node` for
 * every major, and none of them may shadow the Node that runs npm scripts, so they are never
 * devDependencies). Versions are exact, for runs that do not drift. A runtime already installed at
 * its version is not asked for again (the warm run makes no network call).
 *
 * Usage: node test/runtimes/install.mjs  → prints each runtime's binary path.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CACHE = join(root, '.cache/runtimes');

/** Each runtime: the folder it installs into, the package and its exact version, and the binary it brings. */
export const RUNTIMES = [
  { name: 'node22', pkg: 'node', version: '22.23.3', bin: 'node' },
  { name: 'node24', pkg: 'node', version: '24.21.0', bin: 'node' },
  { name: 'bun', pkg: 'bun', version: '1.4.5', bin: 'bun' },
  { name: 'deno', pkg: 'deno', version: '2.9.6', bin: 'deno' },
  { name: 'workerd', pkg: 'miniflare', version: '4.20260730.0', bin: undefined },
];

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
