/**
 * The install docs/library.md gives before the package is published: from a git URL of this
 * repository (here `git+file://<repo root>#<HEAD commit>`, what CI's fresh clone holds), with
 * the documented command's peers and no pin of our own. npm clones it and runs `prepare`,
 * which builds dist/; the documented example (examples/library/server.ts) then runs against
 * a real redis-server. Only committed files count: the URL names HEAD.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../helpers/free-port.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { postGraphQL } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
const ALICE_PASSWORD = 'alice-in-the-git-install-test';

/** The peers of docs/library.md's `npm install graphql-revoke …` line, word for word. */
function documentedPeers(): string[] {
  const line = /^npm install graphql-revoke (.+)$/m.exec(readFileSync(join(ROOT, 'docs/library.md'), 'utf8'));
  if (!line) throw new Error('docs/library.md shows no `npm install graphql-revoke …` line');
  return (line[1] as string).trim().split(/\s+/);
}

let dir: string;
let redis: RedisServerProcess;
let child: ChildProcess | undefined;
let spec: string;

beforeAll(async () => {
  const head = (await run('git', ['rev-parse', 'HEAD'], { cwd: ROOT })).stdout.trim();
  spec = `git+file://${ROOT}#${head}`;
  dir = mkdtempSync(join(tmpdir(), 'graphql-revoke-git-install-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }, null, 2));
  const t0 = Date.now();
  try {
    await run('npm', ['install', '--no-audit', '--no-fund', spec, ...documentedPeers()], {
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024,
      // prefer-offline: npm reuses what `npm ci` just put in its cache instead of asking the
      // registry about each package again (also for the clone's own install before `prepare`).
      // Its version lists may then be as old as that cache: the tarball test, without it, is the
      // one that checks the newest versions the registry serves.
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_prefer_offline: 'true' },
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm install ${spec} failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
  console.log(`[install] from the git URL in ${Date.now() - t0} ms`);
  // The example as plain JavaScript (its types are checked against the tarball in packed-library.test.ts).
  const { code } = await transform(readFileSync(join(ROOT, 'examples/library/server.ts'), 'utf8'), { loader: 'ts', format: 'esm', target: 'node20' });
  writeFileSync(join(dir, 'server.js'), code);
  redis = await startRedisServer({ appendonly: false });
}, 300_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await redis?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('installed from the git URL, as docs/library.md says to before publishing', () => {
  it('npm ran prepare: the clone was built (dist/ with its types) and the documented docs line names the git URL way', () => {
    const installed = join(dir, 'node_modules/graphql-revoke');
    expect(existsSync(join(installed, 'dist/index.js'))).toBe(true);
    expect(existsSync(join(installed, 'dist/index.d.ts'))).toBe(true);
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
    expect(lock.packages['node_modules/graphql-revoke']?.resolved).toBe(spec);
    expect(readFileSync(join(ROOT, 'docs/library.md'), 'utf8')).toMatch(/npm install git\+https:\/\/<host>\/<owner>\/graphql-revoke\.git/);
  });

  it('runs the documented example against a real Redis: 200, signIn, 401 TOKEN_REVOKED after cancelToken', async () => {
    const port = await getFreePort();
    child = spawn(process.execPath, ['server.js'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', JWT_SECRET: 'git-install-test-secret-0123456789-abcdefghij', ALICE_PASSWORD, PORT: String(port), REDIS_URL: redis.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    await waitFor('the example to listen', 30_000, async () => (output.includes('GraphQL at') ? true : undefined), () => output);
    const url = `http://127.0.0.1:${port}/`;
    const post = (query: string, token?: string) => postGraphQL(url, query, { token });
    expect((await post('{ health }')).body).toEqual({ data: { health: 'ok' } });
    const token = (await post(`mutation { signIn(username: "alice", password: "${ALICE_PASSWORD}") }`)).body.data.signIn as string;
    expect((await post('{ invoices { id total } }', token)).body).toEqual({ data: { invoices: [{ id: 'invoice-of-user-1', total: 42 }] } });
    expect((await post('mutation { cancelToken }', token)).body).toEqual({ data: { cancelToken: true } });
    const revoked = await post('{ invoices { id } }', token);
    expect([revoked.status, revoked.body.errors[0].extensions.reason]).toEqual([401, 'TOKEN_REVOKED']);
  });
});
