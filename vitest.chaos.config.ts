import { defineConfig } from 'vitest/config';

// The fault and security suite (npm run test:chaos): real hub processes killed, Redis restarted,
// PostgreSQL cut off. Kept apart from `npm test` because it takes minutes; its files run one after
// another so that the outages of one scenario do not slow the timings of another.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
