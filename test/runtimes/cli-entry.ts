/**
 * The conformance scenarios as a command (Node, Bun, Deno): the driver's input as the first
 * argument (JSON), the answers on stdout (JSON). Bundled by run.ts into one ESM file.
 */
import { type ConformanceInput, runConformance } from './conformance.js';

declare const Deno: { args: string[] } | undefined;

const args = typeof Deno === 'undefined' ? process.argv.slice(2) : Deno.args;
const input = JSON.parse(args[0] ?? '') as ConformanceInput;
console.log(JSON.stringify(await runConformance(input)));
