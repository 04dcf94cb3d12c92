/**
 * The peer: what a developer writes by hand instead of using graphql-revoke, as the tutorials
 * show it. Apollo Server 5 through startStandaloneServer, a context function that verifies the
 * bearer token with jsonwebtoken (HS256, issuer and audience pinned, the key built once) and asks Redis whether its
 * jti is on a blacklist (`EXISTS revoked:<jti>`, ioredis with its defaults), once per request;
 * a revoked or invalid token is refused 401. The same query shapes as plain-server.ts, `me`
 * answered from the token's claims. Started by bench/run.ts as a child process; prints one JSON
 * line `{"url": ...}` once it listens.
 *
 * Env: PORT (default 0), REDIS_URL, JWT_SECRET, JWT_ISSUER / JWT_AUDIENCE (default graphql-revoke).
 */
import { createSecretKey } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { BASELINE_TYPE_DEFS as typeDefs } from './lib/baseline-schema.js';
import { GraphQLError } from 'graphql';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';

interface Context {
  user?: { id: string; username: string };
}

// A key object built once, as a careful developer would: handing jsonwebtoken the secret as a
// string costs ~370 µs a verification (bench/RESULTS.md, "HS256 verification"), which would make
// this peer a straw man.
const secretText = process.env.JWT_SECRET ?? '';
const secret = createSecretKey(Buffer.from(secretText));
const issuer = process.env.JWT_ISSUER ?? 'graphql-revoke';
const audience = process.env.JWT_AUDIENCE ?? 'graphql-revoke';
if (!secretText || !process.env.REDIS_URL) throw new Error('peer-server: JWT_SECRET and REDIS_URL are required');
const redis = new Redis(process.env.REDIS_URL);

function unauthenticated(): GraphQLError {
  return new GraphQLError('Invalid token', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

const server = new ApolloServer<Context>({
  typeDefs,
  resolvers: { Query: { me: (_parent, _args, context: Context) => context.user ?? null } },
});
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(process.env.PORT ?? 0), host: '127.0.0.1' },
  async context({ req }) {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return {};
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(header.slice(7), secret, { algorithms: ['HS256'], issuer, audience }) as jwt.JwtPayload;
    } catch {
      throw unauthenticated();
    }
    if (typeof claims.jti !== 'string' || typeof claims.sub !== 'string') throw unauthenticated();
    if ((await redis.exists(`revoked:${claims.jti}`)) === 1) throw unauthenticated();
    return { user: { id: claims.sub, username: String(claims.preferred_username ?? '') } };
  },
});
process.stdout.write(`${JSON.stringify({ url })}\n`);

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
