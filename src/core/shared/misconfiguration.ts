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

  /**
   * Runs `work`, recording a misconfiguration it throws, or clearing the source's when it succeeds.
   * `explain` says what about an error is a misconfiguration (default: the MisconfiguredError in
   * its cause chain); an error it explains nothing of leaves the source as it was.
   */
  async watch<T>(
    source: MisconfigurationSource,
    work: () => Promise<T>,
    explain: (error: unknown) => string | undefined = misconfigurationMessage,
  ): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (error) {
      const message = explain(error);
      if (message !== undefined) this.report(source, message);
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

/** The message of the MisconfiguredError behind `error`, if any. */
export function misconfigurationMessage(error: unknown): string | undefined {
  return findMisconfiguration(error)?.message;
}

/** The MisconfiguredError behind `error` (itself, or the cause of a wrapping error), if any. */
export function findMisconfiguration(error: unknown): MisconfiguredError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth += 1) {
    if (current instanceof MisconfiguredError) return current;
  }
  return undefined;
}
