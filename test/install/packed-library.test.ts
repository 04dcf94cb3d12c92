/**
 * The package as a new user gets it: `npm pack`, a fresh project, `npm install <tarball>`
 * with the newest graphql 16 and @apollo/server 5 the registry serves, docs/library.md's
 * example (examples/library/server.ts, the very file the doc includes) compiled with
 * `tsc --strict` and `skipLibCheck: false` in NodeNext and in Bundler resolution, then run
 * against a real redis-server: its 401 and 503 answers, Redis frozen and Redis down. And the
 * same server bundled with esbuild, far from any schema/ folder, must start.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../helpers/free-port.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { postGraphQL } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLE = join(ROOT, 'examples/library/server.ts');
const ALICE_PASSWORD = 'alice-in-the-install-test';
const JWT_SECRET = 'install-test-secret-0123456789-abcdefghij';
/**
 * The install command docs/library.md shows, word for word: read from the page, and only the
 * package spec `graphql-revoke` replaced by the tarball. No pin of our own is added.
 */
function documentedInstall(): string[] {
  const page = readFileSync(join(ROOT, 'docs/library.md'), 'utf8');
  const line = /^npm install graphql-revoke (.+)$/m.exec(page);
  if (!line) throw new Error('docs/library.md shows no `npm install graphql-revoke …` line');
  return (line[1] as string).trim().split(/\s+/);
}
export const INSTALL = documentedInstall();

let dir: string;
let redis: RedisServerProcess;
const children: ChildProcess[] = [];

async function sh(command: string, args: string[], cwd = dir): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

function tsconfig(name: string, options: Record<string, unknown>): void {
  const compilerOptions = { target: 'ES2022', strict: true, skipLibCheck: false, types: ['node'], ...options };
  writeFileSync(join(dir, name), JSON.stringify({ compilerOptions, files: ['server.ts', 'typo.ts'] }, null, 2));
}

/** Starts `node file` with the example's environment; resolves with its URL once it listens. */
async function startExample(file: string, env: Record<string, string>): Promise<{ url: string; output: () => string; child: ChildProcess }> {
  const port = await getFreePort();
  const child = spawn(process.execPath, [file], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', JWT_SECRET, ALICE_PASSWORD, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${file} exited ${code}:\n${output}`))));
  // Killed at the end of the run: that exit is no failure.
  exited.catch(() => {});
  await Promise.race([waitFor(`${file} to listen`, 30_000, async () => (output.includes('GraphQL at') ? true : undefined), () => output), exited]);
  return { url: `http://127.0.0.1:${port}/`, output: () => output, child };
}

beforeAll(async () => {
  const t0 = Date.now();
  dir = mkdtempSync(join(tmpdir(), 'graphql-revoke-install-'));
  // `npm pack` runs `prepare`: dist/ is built from the sources of this checkout.
  const packed = JSON.parse(await sh('npm', ['pack', '--json', '--pack-destination', dir], ROOT)) as Array<{ filename: string }>;
  const tarball = join(dir, packed[0]!.filename);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }, null, 2));
  console.log(`[install] packed in ${Date.now() - t0} ms`);
  // The app's own compiler too: typescript and @types/node (the library does not bring them).
  await sh('npm', ['install', '--no-audit', '--no-fund', tarball, ...INSTALL, 'typescript@5', '@types/node@20']);
  console.log(`[install] installed in ${Date.now() - t0} ms`);
  copyFileSync(EXAMPLE, join(dir, 'server.ts'));
  redis = await startRedisServer({ appendonly: false });
}, 240_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (redis?.running) process.kill(redis.pid, 'SIGCONT');
  await redis?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed library in a fresh project', () => {
  it('ships dist/ and src/ (the source maps resolve) and no tests, and installs one graphql: the app\'s', async () => {
    const files = readdirSync(join(dir, 'node_modules/graphql-revoke'));
    expect(files.sort()).toEqual(['README.md', 'dist', 'package.json', 'src']);
    const copies = (await sh('npm', ['ls', 'graphql', '--all', '--parseable'])).trim().split('\n');
    expect(copies).toEqual([join(dir, 'node_modules/graphql')]);
    const apollo = (await sh('npm', ['ls', '@apollo/server', '--all', '--parseable'])).trim().split('\n');
    expect(apollo).toEqual([join(dir, 'node_modules/@apollo/server')]);
  });

  it('installed the documented command as npm resolved it, with no peer conflict', async () => {
    expect(INSTALL).toEqual(['@apollo/server@5', 'graphql@16', '@graphql-tools/schema@10', 'ioredis@5']);
    const version = (name: string) => (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    expect(version('ioredis')).toMatch(/^5\./);
    expect(version('@graphql-tools/schema')).toMatch(/^10\./);
    await sh('npm', ['ls', '--all']); // exits non-zero on an invalid or missing peer
  });

  it('compiles the documented example with tsc --strict, skipLibCheck false, in NodeNext and in Bundler resolution', async () => {
    // A misspelt algorithm must be a compile error, not an `any`: were it accepted, the
    // expect-error directive in typo.ts would be unused, itself an error, in both compilations.
    writeFileSync(
      join(dir, 'typo.ts'),
      "import { createSecretKey } from 'node:crypto';\nimport { createTokenIssuer } from 'graphql-revoke';\n" +
        "// @ts-expect-error 'HS257' is not a JwsAlgorithm\n" +
        "export const misspelt = () => createTokenIssuer({ key: createSecretKey(Buffer.alloc(32)), algorithm: 'HS257', issuer: 'i', audience: 'a' });\n",
    );
    tsconfig('tsconfig.json', { module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'dist' });
    tsconfig('tsconfig.bundler.json', { module: 'ESNext', moduleResolution: 'Bundler', noEmit: true });
    // Both at once: two cores, and each run spends most of its time checking the libraries' types.
    await Promise.all([
      sh(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json']),
      sh(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.bundler.json']),
    ]);
  });

  it('runs it against a real Redis: 200, 401 + WWW-Authenticate after cancelToken, 503 + Retry-After with Redis frozen and down', async () => {
    const server = await startExample('dist/server.js', { REDIS_URL: redis.url });
    const post = (query: string, token?: string) => postGraphQL(server.url, query, { token });

    expect((await post('{ health }')).body).toEqual({ data: { health: 'ok' } });
    const anonymous = await post('{ health invoices { id } }');
    expect(anonymous.body.data).toEqual({ health: 'ok', invoices: null });
    expect(anonymous.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });

    const typo = await post('mutation { signIn(username: "alice", password: "wrong") }');
    expect(typo.status).toBe(200);
    expect(typo.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });

    const token = (await post(`mutation { signIn(username: "alice", password: "${ALICE_PASSWORD}") }`)).body.data.signIn as string;
    expect((await post('{ invoices { id total } }', token)).body).toEqual({ data: { invoices: [{ id: 'invoice-of-user-1', total: 42 }] } });
    expect((await post('mutation { cancelToken }', token)).body).toEqual({ data: { cancelToken: true } });
    const revoked = await post('{ invoices { id } }', token);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(revoked.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });

    const fresh = (await post(`mutation { signIn(username: "alice", password: "${ALICE_PASSWORD}") }`)).body.data.signIn as string;
    process.kill(redis.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const frozen = await post(`mutation { signIn(username: "alice", password: "${ALICE_PASSWORD}") }`);
      // The client's command timeout (500 ms) answers, not a 30 s hang; the bound is loose for a busy machine.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(frozen.status).toBe(503);
      expect(frozen.headers.get('retry-after')).toBe('1');
      expect(frozen.body.errors[0]).toMatchObject({ message: 'Authentication is temporarily unavailable. Retry shortly.', extensions: { code: 'AUTH_UNAVAILABLE' } });
      const lookup = await post('{ invoices { id } }', fresh);
      expect([lookup.status, lookup.headers.get('retry-after'), lookup.body.errors[0].extensions.code]).toEqual([503, '1', 'AUTH_UNAVAILABLE']);
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }

    await redis.stop();
    const started = Date.now();
    const down = await post(`mutation { signIn(username: "alice", password: "${ALICE_PASSWORD}") }`);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect([down.status, down.headers.get('retry-after'), down.body.errors[0].extensions.code]).toEqual([503, '1', 'AUTH_UNAVAILABLE']);
    expect(server.output()).not.toMatch(/Unhandled error event/);
    await redis.restart();
  });

  it('starts as a single esbuild bundle, with no schema/ folder anywhere near it', async () => {
    const externals = ['@apollo/server', '@graphql-tools/schema', '@graphql-tools/utils', 'graphql', 'ioredis', 'jsonwebtoken', 'pino', 'prom-client', 'rate-limiter-flexible', '@escape.tech/graphql-armor'];
    await build({
      entryPoints: [join(dir, 'dist/server.js')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // graphql-revoke goes into the bundle; what the app owns stays in node_modules.
      external: externals.flatMap((name) => [name, `${name}/*`]),
      outfile: join(dir, 'bundle/server.mjs'),
      logLevel: 'error',
    });
    const server = await startExample('bundle/server.mjs', { REDIS_URL: redis.url });
    expect((await postGraphQL(server.url, '{ health }')).body).toEqual({ data: { health: 'ok' } });
  });
});
