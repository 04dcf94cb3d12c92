import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../helpers/free-port.js';
import { waitFor } from '../helpers/wait-for.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { postGraphQL } from '../helpers/test-server.js';
import { startRedisServer } from '../helpers/redis-server.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Compiles src/ to dist/ as `npm start` does first (its prestart: `npm run build`). */
function build(): void {
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}${result.stderr}`);
}

/** Starts what `npm start` runs (node dist/server/main.js) with `env`. */
function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['dist/server/main.js'], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

async function waitForServer(url: string): Promise<void> {
  await waitFor(`the server at ${url}`, 20_000, async () => ((await fetch(url.replace('/graphql', '/healthz'))).status === 200 ? true : undefined), () => '', 100);
}

const gql = (url: string, query: string, token?: string) => postGraphQL(url, query, { token });

async function runFlow(url: string): Promise<void> {
  const username = `start_${process.pid}_${Date.now().toString(36)}`;
  const signUp = await gql(url, `mutation { signUp(username: "${username}", password: "password-1234") { accessToken } }`);
  const token = signUp.body.data.signUp.accessToken as string;
  expect((await gql(url, '{ me { username } }', token)).body.data.me.username).toBe(username);
  expect((await gql(url, 'mutation { cancelToken }', token)).body.data.cancelToken).toBe(true);
  const after = await gql(url, '{ me { username } }', token);
  expect(after.status).toBe(401);
  expect(after.body.errors[0].extensions.reason).toBe('TOKEN_REVOKED');
}

describe('npm start (the build: node dist/server/main.js)', () => {
  beforeAll(build, 60_000);

  it('serves the flow on the embedded store, warning loudly that revocations stay in this process', async () => {
    const port = await getFreePort();
    const api = start({ PORT: String(port) });
    const url = `http://127.0.0.1:${port}/graphql`;
    await waitForServer(url);
    await runFlow(url);
    expect(api.output().stdout).toMatch(/EMBEDDED IN-PROCESS token store/);
  });

  it('serves the flow on Redis with REDIS_URL', async () => {
    const port = await getFreePort();
    const api = start({ PORT: String(port), REDIS_URL: requireRedisUrl(), JWT_SECRET: 'start-test-secret-0123456789abcdefghij', REDIS_KEY_PREFIX: `start${process.pid}` });
    const url = `http://127.0.0.1:${port}/graphql`;
    await waitForServer(url);
    await runFlow(url);
    expect(api.output().stdout).not.toMatch(/EMBEDDED/);
  });

  it('refuses to start in production without REDIS_URL: one clear line, non-zero exit', async () => {
    const api = start({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), PORT: String(await getFreePort()) });
    expect(await api.exited).not.toBe(0);
    const lines = api.output().stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/REDIS_URL.* is required when NODE_ENV=production/);
  });

  it('a busy port: one line on stderr and exit 1, no EADDRINUSE stack', async () => {
    const port = await getFreePort();
    const squatter = createNetServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const api = start({ JWT_SECRET: 'x'.repeat(32), PORT: String(port), HOST: '127.0.0.1' });
      expect(await api.exited).toBe(1);
      expect(api.output().stderr.trim().split('\n')).toEqual([`graphql-revoke: cannot listen for the API on 127.0.0.1:${port}: the port is in use (EADDRINUSE)`]);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('with Redis missing at start: "listening; store unavailable" and /readyz 503; when Redis comes, one "ready" line and /readyz 200', async () => {
    const port = await getFreePort();
    const redisPort = await getFreePort();
    const api = start({ JWT_SECRET: 'x'.repeat(32), PORT: String(port), HOST: '127.0.0.1', REDIS_URL: `redis://127.0.0.1:${redisPort}` });
    await waitFor('the start line', 30_000, async () => (api.output().stdout.includes('store unavailable') ? true : undefined), () => api.output().stdout, 100);
    expect(api.output().stdout).toMatch(/GraphQL API listening at http:\/\/127\.0\.0\.1:\d+\/graphql; store unavailable/);
    expect(api.output().stdout).not.toMatch(/GraphQL API ready/);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    // Reconnects fail about twice a second; over 3 s that is one 'redis connection error' line at most.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const errorLines = () => api.output().stdout.split('\n').filter((line) => line.includes('redis connection error'));
    expect(errorLines().length).toBeLessThanOrEqual(1);

    const redis = await startRedisServer({ port: redisPort, appendonly: false });
    try {
      await waitFor('the ready line', 20_000, async () => (/GraphQL API ready at/.test(api.output().stdout) ? true : undefined), () => api.output().stdout, 100);
      await waitFor('/readyz 200', 10_000, async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined), () => api.output().stdout, 100);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const readyLines = api.output().stdout.split('\n').filter((line) => line.includes('GraphQL API ready at'));
      expect(readyLines).toHaveLength(1);
      expect(readyLines[0]).toContain(`GraphQL API ready at http://127.0.0.1:${port}/graphql (the store answers now)`);
      await runFlow(`http://127.0.0.1:${port}/graphql`);
    } finally {
      api.child.kill('SIGKILL');
      await redis.cleanup();
    }
  }, 60_000);

  it('repeated Redis connection errors: at most one line per 10 s, with how many failed since', async () => {
    const api = start({ JWT_SECRET: 'x'.repeat(32), PORT: String(await getFreePort()), HOST: '127.0.0.1', REDIS_URL: `redis://127.0.0.1:${await getFreePort()}` });
    const errorLines = () => api.output().stdout.split('\n').filter((line) => line.includes('redis connection error'));
    await waitFor('two connection error lines', 25_000, async () => (errorLines().length >= 2 ? true : undefined), () => api.output().stdout, 200);
    const [first, second] = errorLines().map((line) => JSON.parse(line) as { time: number; alsoFailedSinceLastLine: number });
    expect(second!.time - first!.time).toBeGreaterThanOrEqual(10_000);
    expect(first!.alsoFailedSinceLastLine).toBe(0);
    expect(second!.alsoFailedSinceLastLine).toBeGreaterThan(0);
  }, 40_000);

  it('a REDIS_URL of another scheme: one line and exit 1', async () => {
    const api = start({ JWT_SECRET: 'x'.repeat(32), PORT: String(await getFreePort()), REDIS_URL: 'http://127.0.0.1:6379' });
    expect(await api.exited).toBe(1);
    expect(api.output().stderr.trim().split('\n')).toEqual(['graphql-revoke: configuration error: REDIS_URL must start with redis:// or rediss:// (TLS), got "http://127.0.0.1:6379"']);
  });

  it('refuses a JWT_SECRET shorter than 32 bytes', async () => {
    const api = start({ JWT_SECRET: 'too-short', PORT: String(await getFreePort()) });
    expect(await api.exited).not.toBe(0);
    expect(api.output().stderr).toMatch(/JWT_SECRET must be at least 32 bytes/);
  });
});
