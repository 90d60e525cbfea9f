import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start Azurite and HTTP receivers on free ports; two workers match CI's two cores.
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summaryReporter.ts'],
  },
});
