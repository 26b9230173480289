// Adds lockfile records for optional platform packages that npm left out.
//
// npm 11 (seen with 11.19.1 here) writes package-lock.json without the records of optional
// dependencies for *other* platforms (npm/cli#4828, #8320) and then `npm ci` refuses that same
// lockfile ("Missing: @swc/core-darwin-arm64@ from lock file"). Run this after every
// `npm install` that changes dependencies:  node .ci/complete-lockfile.mjs
// It only adds records (version, integrity, os/cpu/libc, optional) read from the registry; the
// registry reachable from these machines does not carry every platform build, so for a package it
// cannot find, os/cpu/libc are read off the package name (`@swc/core-darwin-arm64`): npm ci then
// skips it on platform mismatch, as it would have anyway, without fetching it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;

for (const [location, entry] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    // Resolution as npm does it: nested under this package, else hoisted to the root.
    const nested = `${location ? `${location}/` : ''}node_modules/${name}`;
    if (packages[nested] || packages[`node_modules/${name}`]) continue;
    const info = fromRegistry(name, range) ?? fromName(name, range);
    packages[`node_modules/${name}`] = {
      version: info.version,
      ...(info.dist?.integrity ? { integrity: info.dist.integrity } : {}),
      ...(info.cpu ? { cpu: info.cpu } : {}),
      ...(info.os ? { os: info.os } : {}),
      ...(info.libc ? { libc: info.libc } : {}),
      dev: entry.dev === true ? true : undefined,
      optional: true,
      ...(info.license ? { license: info.license } : {}),
      ...(info.engines ? { engines: info.engines } : {}),
    };
    if (packages[`node_modules/${name}`].dev === undefined) delete packages[`node_modules/${name}`].dev;
    added++;
    console.log(`added ${name}@${info.version}`);
  }
}

function fromRegistry(name, range) {
  try {
    const meta = JSON.parse(
      execFileSync('npm', ['view', `${name}@${range}`, '--json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    );
    return Array.isArray(meta) ? meta[meta.length - 1] : meta;
  } catch {
    return undefined;
  }
}

function fromName(name, range) {
  const OS = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openharmony', 'sunos', 'aix', 'netbsd', 'openbsd'];
  const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'];
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p));
  if (!os || !cpu || !/^\d+\.\d+\.\d+/.test(range))
    throw new Error(`cannot find ${name}@${range} in the registry nor read its platform off the name`);
  const libc =
    parts.includes('musl') || parts.includes('musleabihf')
      ? ['musl']
      : parts.includes('gnu') || parts.includes('gnueabihf')
        ? ['glibc']
        : undefined;
  return { version: range, os: [os], cpu: [cpu], ...(libc ? { libc } : {}) };
}

// Keep npm's key order (sorted) so later installs produce small diffs.
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`${added} record(s) added`);
