/** @jest-config-loader esbuild-register */
import type { Config } from 'jest';

// Native ESM mode (see package.json "test": --experimental-vm-modules): jose and oidc-provider
// are ESM-only, so nothing in node_modules needs transforming; swc only strips our TypeScript.
const config: Config = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
      },
    ],
  },
  // Sources import './x.js' (NodeNext); map those to the .ts files under test.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The verifier's default log lines (console.warn), provoked by the hundred on purpose: dropped.
  setupFiles: ['<rootDir>/test/support/quiet-default-log.ts'],
  testTimeout: 20_000,
  maxWorkers: 2,
};

export default config;
