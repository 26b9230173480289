#!/usr/bin/env node
/**
 * Runs jest (native ESM mode) on a pinned Node from .cache/runtimes/ (install.mjs), not on
 * whichever Node runs npm: `npm test` runs it on the newest LTS (TEST_NODE, Node 24), since the
 * Node a machine ships may be past end of life (Node 20 is). The first run installs that Node from
 * the npm registry (one download, ~5 s); later runs make no network call.
 *
 * Usage: node test/runtimes/jest.mjs [--node <name>] [jest arguments…]
 *   --node node20|node22|node24  another pinned Node (`npm run test:engines` runs on node20 and node22)
 *   --node current               the Node running this script, nothing installed
 * Every other argument goes to jest (`npm test -- test/adapters` runs that folder).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, relative } from 'node:path';
import { install, locate, runtimeNamed, TEST_NODE } from './install.mjs';

/** `--node <name>` or `--node=<name>`, taken out of `args`; TEST_NODE when absent. */
function takeNodeChoice(args) {
  const at = args.findIndex((arg) => arg === '--node' || arg.startsWith('--node='));
  if (at === -1) return TEST_NODE;
  const [flag, next] = args.splice(at, args[at] === '--node' ? 2 : 1);
  const name = flag === '--node' ? next : flag.slice('--node='.length);
  if (!name) {
    console.error('jest.mjs: --node needs a name (node20, node22, node24 or current)');
    process.exit(2);
  }
  return name;
}

const args = process.argv.slice(2);
const choice = takeNodeChoice(args);

let node = process.execPath;
if (choice !== 'current') {
  const runtime = runtimeNamed(choice);
  if (runtime.pkg !== 'node') {
    console.error(`jest.mjs: ${choice} is not a Node.js runtime`);
    process.exit(2);
  }
  try {
    install(runtime);
  } catch (error) {
    console.error(
      `jest.mjs: ${error.message}.\nOffline? \`npm test -- --node current\` runs jest on the Node running npm.`,
    );
    process.exit(1);
  }
  node = locate(runtime).bin;
}

const require = createRequire(import.meta.url);
const jest = join(dirname(require.resolve('jest/package.json')), require('jest/package.json').bin);
const env = {
  ...process.env,
  // Native ESM jest needs VM modules; their ExperimentalWarning (printed once per jest process) is
  // expected, so that one warning type is silenced (--disable-warning: Node >= 20.11, every Node we run).
  NODE_OPTIONS: [process.env.NODE_OPTIONS, '--experimental-vm-modules', '--disable-warning=ExperimentalWarning']
    .filter(Boolean)
    .join(' '),
  // A test that starts `node` by name (npm's own scripts, say) gets the same Node as jest.
  PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`,
};
const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
console.log(
  `jest on Node ${version} (${choice === 'current' ? 'the Node running npm' : relative(process.cwd(), node)})`,
);

const child = spawn(node, [jest, ...args], { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
