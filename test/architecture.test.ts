/**
 * The folder rule of src/README.md, checked: imports run down the layers, never up or sideways,
 * and the core imports no framework. A new file in a new folder fails here until it is placed.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const src = resolve(import.meta.dirname, '../src');

/** Top to bottom, as in src/README.md: a file may import only from its own folder or a lower layer. */
const LAYERS = [
  ['index.ts'],
  ['express', 'fastify', 'koa', 'hono', 'fetch', 'metrics', 'cli'],
  ['glue'],
  ['core/request'],
  ['core/receive'],
  ['core/verify'],
  ['core/revoke'],
  ['core/idp'],
  ['stores'],
  ['core/shared'],
] as const;

function folderOf(file: string): string {
  const path = relative(src, file);
  const folder = dirname(path);
  return folder === '.' ? path : folder;
}

function layerOf(file: string): number {
  const folder = folderOf(file);
  const layer = LAYERS.findIndex((names) => (names as readonly string[]).includes(folder));
  if (layer === -1)
    throw new Error(`${relative(src, file)} is in no layer: place its folder in LAYERS and src/README.md`);
  return layer;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const IMPORT = /(?:from|import)\s*\(?\s*'([^']+)'/g;

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((match) => match[1]!);
}

describe('src/ layout', () => {
  const files = sourceFiles(src);

  it('places every source file in a layer', () => {
    for (const file of files) expect(() => layerOf(file)).not.toThrow();
  });

  it('imports only from the same folder or a lower layer', () => {
    const upward: string[] = [];
    for (const file of files) {
      for (const specifier of importsOf(file).filter((s) => s.startsWith('.'))) {
        const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
        if (folderOf(target) === folderOf(file)) continue;
        if (layerOf(target) <= layerOf(file)) upward.push(`${relative(src, file)} -> ${relative(src, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('keeps frameworks and store implementations out of the core', () => {
    const leaks: string[] = [];
    for (const file of files.filter((f) => relative(src, f).startsWith('core/'))) {
      for (const specifier of importsOf(file)) {
        if (/^(express|connect|fastify|koa|hono|ioredis|pg|prom-client)$/.test(specifier))
          leaks.push(`${file}: ${specifier}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('keeps the core free of the Buffer global (Node-only code takes node:buffer from process.getBuiltinModule)', () => {
    const uses: string[] = [];
    for (const file of files.filter((f) => relative(src, f).startsWith('core/'))) {
      const code = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      // `Buffer.from(…)`, `new Buffer`, `instanceof Buffer`: the global, not a member of a module object.
      if (/(?<![.\w])Buffer\s*[.(]|new\s+Buffer\b|instanceof\s+Buffer\b/.test(code)) uses.push(relative(src, file));
    }
    expect(uses).toEqual([]);
  });

  it('keeps the Web-standard adapters free of Node: no node:* import, no Buffer', () => {
    const web = (file: string) =>
      /^(fetch|hono)\//.test(relative(src, file)) ||
      ['glue/body-fields.ts', 'glue/post-answer.ts', 'glue/web-request.ts', 'glue/peer-certificate.ts'].includes(
        relative(src, file),
      );
    const leaks: string[] = [];
    for (const file of files.filter(web)) {
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith('node:')) leaks.push(`${relative(src, file)}: ${specifier}`);
        if (specifier.startsWith('.')) {
          const target = relative(src, resolve(dirname(file), specifier).replace(/\.js$/, '.ts'));
          if (target.startsWith('glue/') && !web(join(src, target))) leaks.push(`${relative(src, file)} -> ${target}`);
        }
      }
      if (/\bBuffer\b/.test(readFileSync(file, 'utf8'))) leaks.push(`${relative(src, file)}: Buffer`);
    }
    expect(leaks).toEqual([]);
  });
});
