/**
 * Every shell example of README.md and docs/*.md, run as a reader would: with bash, against a
 * real API process (src/server/main.ts) and a real redis-server started here, and its stdout
 * compared with the output the doc shows (test/docs/doc-blocks.ts says how blocks are marked and
 * what is masked).
 *
 * The blocks of one document run in order in ONE bash process, under `set -u`: a later block may
 * use what an earlier one set, as a reader running the page top to bottom would, but a variable
 * the page never sets stops the run. What the test changes, and only this:
 * - the addresses: `http://localhost:4000` is the API started here, `redis://127.0.0.1:6379` its
 *   Redis (the machine's shared Redis on 6379 is never touched);
 * - `npx graphql-revoke` runs the package's command from the sources (src/admin/cli/main.ts):
 *   the package is not installed into itself;
 * - the API runs with OAUTH_CLIENTS set to docs/interop.md's example client, and with
 *   REFRESH_REUSE_GRACE_SECONDS=0 and `sleep 11` (the wait past the default
 *   10 s grace in docs/sessions.md) is skipped, so the reuse example is not 11 s of waiting.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { startApiProcess, type ApiProcess } from '../production/api-process.js';
import { documentFiles, matchesExpected, mask, shellBlocks, type ShellBlock } from './doc-blocks.js';

const root = new URL('../../', import.meta.url);
const ROOT = fileURLToPath(root);

/** The blocks that are not run, by document and first line (a prefix), and why. */
const NOT_RUN: readonly { file: string; startsWith: string; reason: string }[] = [
  { file: 'README.md', startsWith: 'npm install graphql-revoke', reason: 'installs the package from the registry, where it is not published; test/install runs the documented install against the packed tarball' },
  { file: 'README.md', startsWith: 'npm ci && npm start', reason: '`npm start` is the server itself, which this test starts (as `tsx src/server/main.ts`); `npm test` is the suite this test is part of' },
  { file: 'README.md', startsWith: 'REDIS_URL=redis://127.0.0.1:6379 JWT_SECRET=', reason: 'starts the server (npm start) and Docker Compose, which CI has no engine for' },
  { file: 'docs/development.md', startsWith: 'npm test', reason: 'the test suite itself (this test is part of it)' },
  { file: 'docs/development.md', startsWith: 'npm run test:browser', reason: 'the browser and install suites, which CI runs as steps of their own' },
  { file: 'docs/library.md', startsWith: 'npm install graphql-revoke', reason: 'installs the package from the registry, where it is not published; test/install runs the documented install against the packed tarball' },
  { file: 'docs/production.md', startsWith: 'export JWT_SECRET=', reason: 'Docker Compose: CI has no Docker engine' },
  { file: 'docs/interop.md', startsWith: 'SECRET="$(openssl rand', reason: 'starts the server (npm start), which this test starts itself with OAUTH_CLIENTS=gateway:<the secret the next block sets>' },
  { file: 'docs/api.md', startsWith: 'curl -s $API -H', reason: 'step-up: the refusal it shows needs ADMIN_FRESH_AUTH_MAX_AGE and 20 minutes; docs/sessions.md runs reauthenticate, and test/e2e/fresh-auth.test.ts asserts both answers over the wire' },
];

const blocks = documentFiles(root).flatMap((file) => shellBlocks(root, file));
const firstLine = (block: ShellBlock) => block.code.split('\n').find((line) => line.trim() !== '' && !line.startsWith('#'))?.trim() ?? '';
const where = (block: ShellBlock) => `${block.file}:${block.line} (${firstLine(block)})`;

/** What the test changes in a block before running it (see the opening comment). */
function adapted(code: string, api: ApiProcess, redisUrl: string): string {
  return code
    .replaceAll('http://localhost:4000', api.base)
    .replaceAll('redis://127.0.0.1:6379', redisUrl)
    .replace(/^sleep 11\b.*$/gm, ': # sleep 11 skipped: the API runs with REFRESH_REUSE_GRACE_SECONDS=0');
}

interface BlockRun {
  block: ShellBlock;
  stdout: string;
  stderr: string;
}

/**
 * Runs one document's blocks in one bash process; a separator line between blocks, on stdout
 * and on stderr, tells each block's output apart. Resolves with what each block printed (a
 * block after the one that stopped bash has none) and bash's exit code.
 */
async function runDocument(runBlocks: ShellBlock[], api: ApiProcess, redisUrl: string): Promise<{ runs: BlockRun[]; code: number | null; stderr: string }> {
  const separator = `--doc-test-block-end-${process.pid}-${Date.now()}--`;
  const tsx = `${ROOT}node_modules/.bin/tsx`;
  const script = [
    'set -u',
    // `npx graphql-revoke` is the package's command; here, from the sources.
    `npx() { if [ "\${1:-}" = graphql-revoke ]; then shift; "${tsx}" "${ROOT}src/admin/cli/main.ts" "$@"; else command npx "$@"; fi; }`,
    ...runBlocks.flatMap((block) => [adapted(block.code, api, redisUrl), `printf '\\n%s\\n' '${separator}'; printf '\\n%s\\n' '${separator}' >&2`]),
  ].join('\n');
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
  const child = spawn('bash', ['-c', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  const outs = stdout.split(`\n${separator}\n`);
  const errs = stderr.split(`\n${separator}\n`);
  return { runs: runBlocks.map((block, i) => ({ block, stdout: outs[i] ?? '', stderr: errs[i] ?? '' })), code, stderr };
}

describe('the shell examples of README.md and docs/*.md', () => {
  it('every shell block is marked: run by this test, or not run for a reason listed here', () => {
    const unmarked = blocks.filter((block) => block.marker === undefined).map(where);
    expect(unmarked, 'add <!-- doc-test: run --> or <!-- doc-test: not run --> before each').toEqual([]);
    const notRun = blocks.filter((block) => block.marker === 'not run');
    for (const block of notRun) {
      expect(
        NOT_RUN.some((entry) => entry.file === block.file && firstLine(block).startsWith(entry.startsWith)),
        `${where(block)} is marked not run: give the reason in NOT_RUN`,
      ).toBe(true);
    }
    for (const entry of NOT_RUN) {
      expect(notRun.some((block) => block.file === entry.file && firstLine(block).startsWith(entry.startsWith)), `NOT_RUN lists ${entry.file}: ${entry.startsWith}, which is no longer a not-run block`).toBe(true);
    }
    // The pages whose examples talk to the API or the command line are run, not set aside.
    const runFiles = new Set(blocks.filter((block) => block.marker === 'run').map((block) => block.file));
    expect([...runFiles].sort()).toEqual(['docs/api.md', 'docs/interop.md', 'docs/operators.md', 'docs/sessions.md']);
  });

  it('compares as documented: … is any text within one line; times, JWTs and curl versions are masked', () => {
    expect(matchesExpected('{"id":"5b0c-12","at":"2026-12-05T09:07:29.794Z"}\n', '{"id":"…","at":"2026-12-03T16:15:00.000Z"}')).toBe(true);
    expect(matchesExpected('{"token":"eyJa.eyJb.sig","ua":"curl/7.88.1"}', '{"token":"eyJ…","ua":"curl/8.5.0"}')).toBe(true);
    expect(matchesExpected('{"data":{"cancelAllMyTokens":3}}', '{"data":{"cancelAllMyTokens":2}}')).toBe(false);
    expect(matchesExpected('line one\nline two', 'line …')).toBe(false);
    expect(matchesExpected('', '{"data":null}')).toBe(false);
  });

  describe('run against a real API process and redis-server', () => {
    let redis: RedisServerProcess;
    let api: ApiProcess;
    const byFile = new Map<string, ShellBlock[]>();
    for (const block of blocks.filter((b) => b.marker === 'run')) byFile.set(block.file, [...(byFile.get(block.file) ?? []), block]);

    beforeAll(async () => {
      redis = await startRedisServer({ appendonly: false });
      api = await startApiProcess({
        REDIS_URL: redis.url,
        REFRESH_REUSE_GRACE_SECONDS: '0',
        METRICS_PORT: '',
        // docs/interop.md's client and the secret its run block sets.
        OAUTH_CLIENTS: 'gateway:example-secret-of-32-or-more-characters',
      });
    });
    afterAll(async () => {
      await api?.kill();
      await redis?.cleanup();
    });

    it.each([...byFile.keys()])('%s: every block runs and prints what the doc shows', async (file) => {
      const started = Date.now();
      const { runs, code, stderr } = await runDocument(byFile.get(file)!, api, redis.url);
      const seconds = (Date.now() - started) / 1000;
      for (const { block, stdout, stderr: blockStderr } of runs) {
        const context = `${where(block)}\n--- stdout (masked) ---\n${mask(stdout)}\n--- stderr ---\n${blockStderr}`;
        if (block.expected === undefined) expect(mask(stdout), `${context}\nprints nothing, as it shows no output`).toBe('');
        else expect(matchesExpected(stdout, block.expected), `${context}\n--- the doc shows ---\n${block.expected}`).toBe(true);
        // Nothing on stderr but the command line's audit lines (JSON) and its warnings.
        const noise = blockStderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('{"level":'));
        expect(noise, context).toEqual([]);
      }
      expect(code, `bash stopped: ${stderr.slice(-2000)}`).toBe(0);
      // Each page in seconds: the whole doc test stays well under a minute.
      expect(seconds).toBeLessThan(30);
    }, 45_000);
  });
});
