import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** `npm run test:browser`: the example browser app in a real headless Chromium (test/browser/). */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['test/browser/**/*.test.ts'], exclude: ['**/node_modules/**'], testTimeout: 120_000 },
});
