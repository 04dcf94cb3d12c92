/**
 * The baseline: a plain Apollo Server 5 with no authentication at all, serving the same
 * query shapes as the project (`{ __typename }`, `{ me { id username } }` with a static
 * user) through @apollo/server's own startStandaloneServer. Started by bench/run.ts as a
 * child process; prints one JSON line `{"url": ...}` once it listens.
 *
 * Env: PORT (default 0: any free port).
 */
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { BASELINE_TYPE_DEFS as typeDefs } from './lib/baseline-schema.js';

const USER = { id: '00000000-0000-4000-8000-000000000000', username: 'bench' };

const server = new ApolloServer({ typeDefs, resolvers: { Query: { me: () => USER } } });
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(process.env.PORT ?? 0), host: '127.0.0.1' },
});
process.stdout.write(`${JSON.stringify({ url })}\n`);

// A baseline has nothing to drain: exit at once (Apollo's drain would wait on idle keep-alive sockets).
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
