#!/usr/bin/env node
/** The `revocable-jwt` executable (package.json `bin`): runs the CLI on this process's arguments and streams. */
import { runCli } from './cli.js';

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin,
  color: process.stdout.isTTY === true && !process.env.NO_COLOR,
});
