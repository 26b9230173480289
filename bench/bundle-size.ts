/**
 * The size of the `revocable-jwt/fetch` entry in an edge bundle (issue 12): esbuild bundles the
 * built `dist/fetch/index.js` as ESM, minified, tree-shaken from the entry's exports, once with
 * jose inside and once with jose left external (for an app that already ships jose); each is
 * gzipped with node:zlib (level 9). It first tries the worker/browser platform (conditions
 * workerd, worker, browser); if that fails because the code imports `node:*` modules, the error
 * is recorded and the bundle is made for the neutral platform with `node:*` external, and the
 * `node:*` modules it still references are listed. Needs `npm run build` first.
 *
 *   npm run bench:bundle      → prints a summary, writes bench/results/bundle-size.json
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, version as esbuildVersion, type Message } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const entry = resolve(root, 'dist/fetch/index.js');

interface Variant {
  jose: 'bundled' | 'external';
  platform: 'browser' | 'neutral';
  minifiedBytes: number;
  gzipBytes: number;
  /** `node:*` (or bare Node built-in) modules the bundle still imports. */
  nodeImports: string[];
  /** Node-only globals the minified code names (a text search: globals keep their names when minified). */
  nodeGlobals: string[];
  /** The inputs that put the most bytes into the output, largest first. */
  largestInputs: { path: string; bytes: number }[];
}

async function bundle(jose: Variant['jose'], platform: Variant['platform']): Promise<Variant> {
  const options: BuildOptions = {
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    platform,
    // What Cloudflare's wrangler resolves with; harmless elsewhere.
    conditions: ['workerd', 'worker', 'browser'],
    ...(platform === 'neutral' ? { mainFields: ['module', 'main'] } : {}),
    external: [...(jose === 'external' ? ['jose'] : []), ...(platform === 'neutral' ? ['node:*'] : [])],
  };
  const result = await build(options);
  const output = result.outputFiles![0]!.contents;
  const meta = result.metafile!;
  const out = Object.values(meta.outputs)[0]!;
  const nodeImports = [
    ...new Set(out.imports.filter((i) => i.external && i.path !== 'jose').map((i) => i.path)),
  ].sort();
  const largestInputs = Object.entries(out.inputs)
    .map(([path, { bytesInOutput }]) => ({ path, bytes: bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 8);
  return {
    jose,
    platform,
    minifiedBytes: output.byteLength,
    gzipBytes: gzipSync(output, { level: 9 }).byteLength,
    nodeImports,
    nodeGlobals: ['Buffer', 'process', 'setImmediate'].filter((name) =>
      new RegExp(`(?<![.\\w$])${name}\\b`).test(new TextDecoder().decode(output)),
    ),
    largestInputs,
  };
}

/** The browser-platform attempt: its variants, or the errors esbuild gave (unresolvable node:* imports). */
async function tryBrowser(): Promise<{ variants: Variant[] } | { errors: string[] }> {
  try {
    return { variants: [await bundle('bundled', 'browser'), await bundle('external', 'browser')] };
  } catch (error) {
    const messages = (error as { errors?: Message[] }).errors ?? [];
    const errors = messages.map((m) => `${m.location ? `${m.location.file}: ` : ''}${m.text}`);
    return { errors: errors.length > 0 ? [...new Set(errors)] : [String(error)] };
  }
}

const browser = await tryBrowser();
const variants =
  'variants' in browser ? browser.variants : [await bundle('bundled', 'neutral'), await bundle('external', 'neutral')];
const report = {
  date: new Date().toISOString(),
  esbuild: esbuildVersion,
  entry: 'dist/fetch/index.js',
  settings: 'format esm, minify, bundle, conditions workerd/worker/browser, gzip level 9',
  browserPlatform: 'variants' in browser ? 'ok' : { failed: true, errors: browser.errors },
  variants,
};
writeFileSync(resolve(root, 'bench/results/bundle-size.json'), `${JSON.stringify(report, null, 2)}\n`);
if ('errors' in browser) console.log(`platform=browser failed:\n  ${browser.errors.join('\n  ')}`);
for (const v of variants)
  console.log(
    `jose ${v.jose.padEnd(8)} platform=${v.platform}: ${(v.minifiedBytes / 1024).toFixed(1)} KiB minified, ` +
      `${(v.gzipBytes / 1024).toFixed(1)} KiB gzip; node imports: ${v.nodeImports.join(', ') || 'none'}; ` +
      `node globals: ${v.nodeGlobals.join(', ') || 'none'}`,
  );
