/**
 * Jest setup: the tests provoke IdP faults, misconfigurations and store outages on purpose, by the
 * hundred, and a verifier's default logger (console.warn) tells each one, which would bury the
 * suite's own output. Lines of the library's default logger are dropped here; everything else
 * still reaches the console. The tests of those lines inject a logger, or spy on console.warn
 * (a spy replaces this wrapper while it lasts).
 */
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (args.length === 1 && typeof args[0] === 'string' && args[0].startsWith('revocable-jwt: ')) return;
  warn(...args);
};
