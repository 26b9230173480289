/**
 * `.ci/doc-links.mjs` (run by `npm run lint`) fails on a broken documentation link: a missing
 * file, an `#anchor` no heading defines (in the same file or another), and nothing else — links in
 * code are not links, GitHub's slugs and repeat suffixes count. Checked on a throwaway git tree, so a
 * checker that silently passes everything cannot pass here.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const script = resolve(import.meta.dirname, '../../.ci/doc-links.mjs');

function check(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'doc-links-'));
  try {
    spawnSync('git', ['init', '-q'], { cwd: dir });
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const run = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
    return { status: run.status, problems: run.stderr.split('\n').slice(1).filter(Boolean) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const readme = [
  '# Title',
  '## `createVerifier(options)`',
  '## Sender-constrained tokens: DPoP (RFC 9449)',
  '## Repeated',
  '## Repeated',
  '```md',
  '## Fenced, so no heading',
  '[in a fence](#nowhere)',
  '```',
].join('\n');

describe('.ci/doc-links.mjs', () => {
  it('passes links that resolve: GitHub slugs, repeats, other files, code, absolute URLs', () => {
    const links = [
      '[a](#createverifieroptions) [b](#sender-constrained-tokens-dpop-rfc-9449) [c](#repeated-1)',
      '[d](docs/guide.md#a-recipe) [e](docs/guide.md) [f](bench) `[g](#in-code)` [h](https://example.com/#x)',
      '[i]: docs/guide.md#a-recipe',
    ];
    const result = check({
      'README.md': `${readme}\n${links.join('\n')}\n`,
      'docs/guide.md': '# Guide\n## A recipe\n[back](../README.md#repeated)\n',
      'bench/x.ts': '',
    });
    expect(result).toEqual({ status: 0, problems: [] });
  });

  it('fails on a missing file, a missing anchor here or there, and a heading only in a fence', () => {
    const links = '[a](#gone) [b](docs/missing.md) [c](docs/guide.md#gone) [d](#fenced-so-no-heading)';
    const result = check({ 'README.md': `${readme}\n${links}\n`, 'docs/guide.md': '# Guide\n' });
    expect(result.status).toBe(1);
    expect(result.problems).toEqual([
      'README.md:10: #gone: no heading with that anchor in README.md',
      'README.md:10: docs/missing.md: no file docs/missing.md',
      'README.md:10: docs/guide.md#gone: no heading with that anchor in docs/guide.md',
      'README.md:10: #fenced-so-no-heading: no heading with that anchor in README.md',
    ]);
  });
});
