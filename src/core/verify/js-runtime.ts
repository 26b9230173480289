/**
 * Which JavaScript runtime this is, for the one choice that depends on it: whose node:crypto may
 * check signatures (jws-backend.ts). Bun, Deno and workerd with `nodejs_compat` all offer a
 * `process` whose `versions.node` and `release.name` say "node", so Node is told apart by what
 * the others set: Bun's `versions.bun`, Deno's `versions.deno`, and `navigator.userAgent`, which
 * Node 21+ starts with `Node.js/` (Node 20 has no `navigator`) and workerd sets to
 * `Cloudflare-Workers`. Anything unrecognised is `other`.
 */

/** A runtime the signature backend choice knows; `other` for everything else. */
export type JsRuntime = 'node' | 'bun' | 'deno' | 'other';

interface MaybeRuntimeGlobals {
  process?: { versions?: Record<string, string | undefined> };
  navigator?: { userAgent?: unknown };
}

/** The runtime running this code (see the file comment for how it is told). */
export function jsRuntime(globals: MaybeRuntimeGlobals = globalThis as MaybeRuntimeGlobals): JsRuntime {
  const versions = globals.process?.versions;
  if (typeof versions?.bun === 'string') return 'bun';
  if (typeof versions?.deno === 'string') return 'deno';
  if (typeof versions?.node !== 'string') return 'other';
  const agent = globals.navigator?.userAgent;
  return agent === undefined || (typeof agent === 'string' && agent.startsWith('Node.js/')) ? 'node' : 'other';
}
