import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** `npm run test:install`: npm pack, a fresh project, the documented example compiled and run (test/install/). */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['test/install/**/*.test.ts'], exclude: ['**/node_modules/**'], testTimeout: 300_000, hookTimeout: 300_000 },
});
