/**
 * The verifier's event hub alone: listeners get exactly what is emitted, a throwing listener never
 * reaches the emitter (so never a rejected request), and the hot-path flag `listeningForVerified`
 * follows the `verified` listeners only.
 */
import { describe, expect, it } from '@jest/globals';
import { VerifierEvents, type VerifierEventMap } from '../../../src/core/shared/events.js';

const verified: VerifierEventMap['verified'] = { cached: true, subject: 'alice', clientId: 'notes-api' };
const rejected: VerifierEventMap['rejected'] = { reason: 'token_expired', code: 'invalid_token', status: 401 };

describe('VerifierEvents', () => {
  it('delivers each event to its own listeners only, payload as emitted, in registration order', () => {
    const events = new VerifierEvents();
    const seen: string[] = [];
    const payloads: unknown[] = [];
    events.on('verified', (e) => {
      seen.push('verified-1');
      payloads.push(e);
    });
    events.on('verified', () => seen.push('verified-2'));
    events.on('rejected', (e) => {
      seen.push('rejected');
      payloads.push(e);
    });
    events.emit('verified', verified);
    events.emit('rejected', rejected);
    expect(seen).toEqual(['verified-1', 'verified-2', 'rejected']);
    expect(payloads[0]).toBe(verified);
    expect(payloads[1]).toBe(rejected);
  });

  it('emits to nobody without listeners, without throwing', () => {
    const events = new VerifierEvents();
    expect(() => events.emit('store-unavailable', { since: 1 })).not.toThrow();
  });

  it('swallows a throwing listener: emit() never throws', () => {
    const events = new VerifierEvents();
    events.on('rejected', () => {
      throw new Error('a broken logger');
    });
    expect(() => events.emit('rejected', rejected)).not.toThrow();
  });

  // A listener that throws must not stop the ones registered after it: a user's broken logger
  // registered first would otherwise blind the Prometheus metrics (also a listener).
  it('a throwing listener does not keep the listeners after it from the event', () => {
    const events = new VerifierEvents();
    const seen: string[] = [];
    events.on('rejected', () => seen.push('first'));
    events.on('rejected', () => {
      throw new Error('a broken logger');
    });
    events.on('rejected', () => seen.push('third'));
    events.emit('rejected', rejected);
    expect(seen).toEqual(['first', 'third']);
  });

  it('off() removes that listener only', () => {
    const events = new VerifierEvents();
    const seen: string[] = [];
    const a = () => seen.push('a');
    const b = () => seen.push('b');
    events.on('misconfigured', a);
    events.on('misconfigured', b);
    events.off('misconfigured', a);
    events.emit('misconfigured', { source: 'keys', message: 'fix `issuer`', issuer: 'https://idp.example' });
    expect(seen).toEqual(['b']);
  });

  it('listeningForVerified follows the verified listeners (and no other event)', () => {
    const events = new VerifierEvents();
    expect(events.listeningForVerified).toBe(false);
    const other = () => undefined;
    events.on('rejected', other);
    expect(events.listeningForVerified).toBe(false);
    const first = () => undefined;
    const second = () => undefined;
    events.on('verified', first);
    events.on('verified', second);
    expect(events.listeningForVerified).toBe(true);
    events.off('verified', first);
    expect(events.listeningForVerified).toBe(true);
    events.off('verified', second);
    expect(events.listeningForVerified).toBe(false);
    events.off('rejected', other);
    expect(events.listeningForVerified).toBe(false);
  });

  it('removeAll() drops every listener and clears the flag', () => {
    const events = new VerifierEvents();
    const seen: string[] = [];
    events.on('verified', () => seen.push('verified'));
    events.on('revoked', () => seen.push('revoked'));
    events.removeAll();
    expect(events.listeningForVerified).toBe(false);
    events.emit('verified', verified);
    events.emit('revoked', { type: 'token', source: 'local', lagMs: undefined });
    expect(seen).toEqual([]);
  });
});
