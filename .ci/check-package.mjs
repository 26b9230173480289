// Checks the package a user would install: packs it the way `npm publish` does (`prepack` builds
// dist/ first), then lints the tarball itself, not the work tree:
//   - the files it ships (dist with the CLI, LICENSE, SECURITY.md, README and the docs/*.md it links;
//     no sources, no source maps, not the generated API reference);
//   - publint (package.json fields against the files: exports, bin, types);
//   - Are the Types Wrong (attw) on every entry point, with the `esm-only` profile: the package is
//     ESM-only by design, so the node10 and node16-CommonJS resolutions, which cannot load it without
//     require(esm), are not judged (README "Module format" says what a CommonJS TypeScript project sets).
// Usage: npm run check:package   (exit 1 on any finding)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const bin = (name) => join(root, 'node_modules/.bin', name);
const workdir = mkdtempSync(join(tmpdir(), 'revocable-jwt-pack-'));
let failed = false;

function step(title, action) {
  console.log(`check:package: ${title}`);
  try {
    action();
  } catch (error) {
    failed = true;
    // The tools print their findings themselves; a failure of our own says why here.
    if (error.stdout === undefined) console.error(`  ${error.message}`);
  }
}

try {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', workdir], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const tarball = join(workdir, packed.filename);
  const files = packed.files.map((file) => file.path);
  console.log(`check:package: ${packed.filename}, ${files.length} files, ${packed.size} bytes`);

  step('ships dist (with the CLI), LICENSE, SECURITY.md, README and docs/*.md; no sources, no maps', () => {
    const needed = ['package.json', 'README.md', 'LICENSE', 'SECURITY.md', 'dist/index.js', 'dist/index.d.ts'];
    needed.push('docs/idp-setup.md', 'docs/verifying.md');
    for (const entry of ['express', 'fastify', 'koa', 'hono', 'fetch']) needed.push(`dist/${entry}/index.js`);
    needed.push('dist/cli/main.js');
    const missing = needed.filter((file) => !files.includes(file));
    const unwanted = files.filter((file) => /^(src|test|bench|example-app|docs\/api)\/|\.map$/.test(file));
    if (missing.length > 0 || unwanted.length > 0)
      throw new Error(`missing: ${missing.join(', ') || 'none'}; should not ship: ${unwanted.join(', ') || 'none'}`);
  });
  step('publint', () => execFileSync(bin('publint'), ['run', tarball, '--strict'], { stdio: 'inherit' }));
  step('attw --profile esm-only', () =>
    execFileSync(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped'], { stdio: 'inherit' }),
  );
} finally {
  rmSync(workdir, { recursive: true, force: true });
}
if (failed) {
  console.error('check:package: failed');
  process.exit(1);
}
console.log('check:package: ok');
