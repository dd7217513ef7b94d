import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most test files wait on child processes, PostgreSQL and Redis rather than on their own CPU:
    // two files at a time halve the suite's time on a 2-core machine (vitest's default would be one).
    // Files that share a server keep to their own databases (test/support/redis.ts, postgres.ts).
    maxWorkers: 2,
    minWorkers: 1,
  },
})
