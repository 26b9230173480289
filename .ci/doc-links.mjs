// Links in the Markdown documentation resolve: every relative link names a file that exists, and
// every `#anchor` (in the same file or in another .md file) names a heading of that file, with
// GitHub's slugs. Run by `npm run lint`; `node .ci/doc-links.mjs [root]` checks another tree.
// Links inside code (fenced blocks, `inline code`) are not links and are skipped; http(s) links
// are not fetched.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');

/** The tracked and new Markdown files (the generated API reference, docs/api, is git-ignored). */
function markdownFiles() {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
    cwd: root,
    encoding: 'utf8',
  });
  return listed.split('\n').filter((file) => file !== '' && existsSync(join(root, file)));
}

/** The file's lines outside fenced code blocks, with inline code blanked out (kept: line numbers). */
function proseLines(text) {
  let fence;
  return text.split('\n').map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (marker && marker[1][0] === fence[0] && marker[1].length >= fence.length) fence = undefined;
      return '';
    }
    if (marker) {
      fence = marker[1];
      return '';
    }
    return line.replace(/(`+)[^`]*?\1/g, (code) => ' '.repeat(code.length));
  });
}

/** GitHub's heading slug (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
function slug(heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading keeps only its text
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

const anchorCache = new Map();
/** The anchors a Markdown file defines: its headings' slugs (repeats get -1, -2…) and `<a id>`s. */
function anchorsOf(file) {
  if (anchorCache.has(file)) return anchorCache.get(file);
  const anchors = new Set();
  const seen = new Map();
  const text = readFileSync(file, 'utf8');
  let fence;
  for (const line of text.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line);
    if (marker && (!fence || (marker[1][0] === fence[0] && marker[1].length >= fence.length))) {
      fence = fence ? undefined : marker[1];
      continue;
    }
    if (fence) continue;
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slug(heading[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const html of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(html[1]);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

/** `[text](target)` and `[label]: target` links of a line. */
function linksOf(line) {
  const targets = [];
  for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(match[1]);
  const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
  if (definition) targets.push(definition[1]);
  return targets;
}

const problems = [];
for (const file of markdownFiles()) {
  const path = join(root, file);
  proseLines(readFileSync(path, 'utf8')).forEach((line, index) => {
    for (const target of linksOf(line)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not checked here
      const [pathPart, anchor] = target.split('#', 2);
      const where = `${file}:${index + 1}`;
      const linked = pathPart === '' ? path : resolve(dirname(path), decodeURIComponent(pathPart));
      if (!existsSync(linked)) {
        problems.push(`${where}: ${target}: no file ${relative(root, linked)}`);
        continue;
      }
      if (anchor === undefined || anchor === '') continue;
      if (statSync(linked).isDirectory() || !linked.endsWith('.md')) {
        problems.push(`${where}: ${target}: an anchor into a file that is not Markdown`);
      } else if (!anchorsOf(linked).has(decodeURIComponent(anchor))) {
        problems.push(`${where}: ${target}: no heading with that anchor in ${relative(root, linked)}`);
      }
    }
  });
}
if (problems.length > 0) {
  console.error(`${problems.length} broken documentation link(s):\n${problems.join('\n')}`);
  process.exit(1);
}
