/**
 * Configuration errors found at run time, once the IdP answers (see MisconfiguredError): each
 * part of the verifier that talks to the IdP reports what it found, so `stats().misconfigured`
 * says what is wrong right now and the `misconfigured` event fires once per distinct cause — not
 * once per request, and again only if the cause changes or comes back after being fixed.
 */
import { MisconfiguredError } from './errors.js';
import type { MisconfigurationSource, VerifierEvents } from './events.js';

export type { MisconfigurationSource } from './events.js';

export class MisconfigurationMonitor {
  /** The current cause per source; bounded by the number of sources. */
  private readonly active = new Map<MisconfigurationSource, string>();

  /** Each new cause is reported to `events` as `misconfigured`, naming the (configured) `issuer`. */
  constructor(
    private readonly events: VerifierEvents,
    private readonly issuer: string,
  ) {}

  /** Runs `work`, recording a misconfiguration it throws, or clearing the source's when it succeeds. */
  async watch<T>(source: MisconfigurationSource, work: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (error) {
      const misconfiguration = findMisconfiguration(error);
      if (misconfiguration !== undefined) this.report(source, misconfiguration.message);
      throw error;
    }
    this.active.delete(source);
    return result;
  }

  /** What is misconfigured now (the first source's explanation), or undefined. */
  get current(): string | undefined {
    for (const message of this.active.values()) return message;
    return undefined;
  }

  private report(source: MisconfigurationSource, message: string): void {
    if (this.active.get(source) === message) return;
    this.active.set(source, message);
    this.events.emit('misconfigured', { source, message, issuer: this.issuer });
  }
}

/** The MisconfiguredError behind `error` (itself, or the cause of a wrapping error), if any. */
export function findMisconfiguration(error: unknown): MisconfiguredError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth += 1) {
    if (current instanceof MisconfiguredError) return current;
  }
  return undefined;
}
