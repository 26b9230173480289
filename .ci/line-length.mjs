// Source and example lines stay within 120 columns (tests and benches: Biome only).
// Biome wraps code at 120 columns but cannot wrap strings or comments: this catches those.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LIMIT = 120;
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.mjs'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((file) => /^(src|example-app|\.ci)\//.test(file));
const long = [];
for (const file of files) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      if (line.length > LIMIT) long.push(`${file}:${index + 1}: ${line.length} columns`);
    });
}
if (long.length > 0) {
  console.error(`${long.length} line(s) over ${LIMIT} columns (split the string or comment):\n${long.join('\n')}`);
  process.exit(1);
}
