import { defineConfig } from 'vitest/config';
import { SLOW_TESTS, shared } from './vitest.config.js';

/** The slow tier, `npm run test:slow` (see `SLOW_TESTS`). */
export default defineConfig({
  test: {
    ...shared,
    include: SLOW_TESTS,
  },
});
