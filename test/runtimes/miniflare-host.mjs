/**
 * Runs the worker bundle in workerd through Miniflare (Node ≥ 22, so run.ts starts this with the
 * Node 24 of .cache/runtimes), posts the driver's input to it and prints the worker's answer.
 * Usage: node miniflare-host.mjs <miniflare's install prefix> <worker bundle> <input JSON> [compatibility flag…]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [prefix, bundle, input, ...compatibilityFlags] = process.argv.slice(2);
const miniflare = createRequire(join(prefix, 'package.json')).resolve('miniflare');
const { Miniflare } = await import(pathToFileURL(miniflare).href);
const mf = new Miniflare({
  modules: true,
  script: readFileSync(bundle, 'utf8'),
  compatibilityDate: '2026-07-01',
  compatibilityFlags,
});
try {
  const response = await mf.dispatchFetch('http://worker.test/', { method: 'POST', body: input });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`worker answered ${response.status}: ${text.slice(0, 2000)}`);
  console.log(text);
} finally {
  await mf.dispose();
}
