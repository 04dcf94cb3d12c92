import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships both index.js and index.mjs; Node (and so @apollo/server and
    // @graphql-tools, which vitest leaves external) loads index.js, while Vite would pick
    // index.mjs for our sources. Two copies of graphql break instanceof checks
    // ("Cannot use GraphQLObjectType from another module or realm"), so pin Node's one.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    // One Redis for the run (REDIS_URL, a container, or a local redis-server);
    // tests read it with requireRedisUrl() from test/helpers/redis-url.ts.
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    // A real browser and a packed install are slower: `npm run test:browser` and `npm run test:install`.
    exclude: ['test/browser/**', 'test/install/**', '**/node_modules/**'],
    // Real servers, clusters and sentinel failovers take seconds, not milliseconds.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Child processes (redis-server) are tracked per worker process and
    // killed when it exits; forks give each test file its own process.
    pool: 'forks',
  },
});
