/**
 * The operator's command line as a child process, against real API processes sharing a
 * redis-server of this test's own: what it changes is seen by the API from outside.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../helpers/free-port.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { uniqueUsername } from '../helpers/test-server.js';
import { decodePayload } from '../helpers/tokens.js';
import { ME, startApiProcess, type ApiProcess } from './api-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SIGN_IN_PAIR = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken refreshToken } }';
const REFRESH = 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }';

/** Signs in on `api`; returns the access and refresh tokens. */
async function signInPair(api: ApiProcess, username: string): Promise<{ accessToken: string; refreshToken: string }> {
  const answer = await api.graphql(SIGN_IN_PAIR, { variables: { u: username, p: 'correct horse battery' } });
  const pair = answer.body?.data?.signIn;
  if (!pair) throw new Error(`signIn failed: ${answer.text}`);
  return pair;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `graphql-revoke <args>` (the sources, through tsx) with only `env` for Redis settings. */
function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const inherited = { ...process.env };
  for (const name of Object.keys(inherited)) if (name.startsWith('REDIS_') || name === 'LOG_LEVEL') delete inherited[name];
  const child = spawn(`${ROOT}node_modules/.bin/tsx`, ['src/admin/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('graphql-revoke, the command line, against two API processes', () => {
  let redis: RedisServerProcess;
  let a: ApiProcess;
  let b: ApiProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false });
    env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `cli${process.pid}` };
    [a, b] = await Promise.all([startApiProcess(env), startApiProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.cleanup();
  });

  it('grant-scopes makes the first admin: the next token carries tokens:admin, and the admin fields answer on both instances', async () => {
    const root = uniqueUsername('root');
    const { userId } = await a.signUp(root);
    const run = await cli(['grant-scopes', root, 'tokens:admin', 'reports:read'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Granted tokens:admin reports:read to ${root} (${userId}). Scopes now: reports:read tokens:admin.`);
    // The audit line, on stderr: who, whom, what came of it.
    const audit = JSON.parse(run.stderr.trim().split('\n')[0]!);
    expect(audit).toMatchObject({ level: 30, msg: 'admin: grantScopes', audit: true, actor: { kind: 'cli' }, target: { userId }, outcome: 'done' });

    const token = await b.signIn(root);
    expect(decodePayload(token).scope).toBe('reports:read tokens:admin');
    const victimName = uniqueUsername('victim');
    const victim = await b.signUp(victimName);
    const pair = await signInPair(b, victimName);
    const answer = await a.graphql('mutation($id: ID!) { cancelAllUserTokens(userId: $id) }', { token, variables: { id: victim.userId } });
    expect(answer.body).toEqual({ data: { cancelAllUserTokens: 2 } });
    // On instance B, at the next request: the access tokens, and the refresh token.
    for (const access of [victim.token, pair.accessToken]) {
      expect((await b.graphql(ME, { token: access })).body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
    }
    const refreshed = await b.graphql(REFRESH, { variables: { r: pair.refreshToken } });
    expect(refreshed.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    // The API's audit line names the admin and the target, and carries no token.
    const line = a.logs().find((l) => l.msg === 'admin: revokeUser');
    expect(line).toMatchObject({ level: 30, actor: { kind: 'user', userId }, target: { userId: victim.userId }, outcome: 'done', tokensRevoked: 2 });
    for (const secret of [token, victim.token, pair.accessToken, pair.refreshToken]) expect(a.output.join('\n')).not.toContain(secret);
  });

  it('revoke-user cuts a live user off on every instance and prints how many tokens', async () => {
    const name = uniqueUsername('bob');
    const { token: first } = await a.signUp(name);
    const { accessToken: second, refreshToken } = await signInPair(b, name);
    for (const [api, token] of [[a, first], [b, second]] as const) expect((await api.graphql(ME, { token })).body.data.me).not.toBeNull();

    const listed = await cli(['sessions', name], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n').slice(0, 2)).toEqual([expect.stringMatching(new RegExp(`^2 live sessions of ${name} \\(`)), expect.stringMatching(/^SESSION +CREATED/)]);

    const run = await cli(['revoke-user', name], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Revoked 2 tokens of ${name} \\(`));
    for (const api of [a, b]) {
      for (const token of [first, second]) {
        const answer = await api.graphql(ME, { token });
        expect(answer.status).toBe(401);
        expect(answer.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
      }
    }
    const refreshed = await a.graphql(REFRESH, { variables: { r: refreshToken } });
    expect(refreshed.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
  });

  it('exits 1 with one line on stderr for bad input (no built-in record to disable), and 2 when the store is unavailable', async () => {
    const port = await getFreePort();
    const [unknown, unavailable] = await Promise.all([
      cli(['disable-user', 'no_such_user_anywhere'], env),
      cli(['revoke-user', 'someone'], { REDIS_URL: `redis://127.0.0.1:${port}` }),
    ]);
    // The audit line (JSON, on stderr by default) comes first: every action is audited, found or not (issue 18).
    const [auditLine, message, ...rest] = unknown.stderr.split('\n');
    expect({ code: unknown.code, stdout: unknown.stdout, message, rest }).toEqual({
      code: 1,
      stdout: '',
      message:
        'graphql-revoke: No user is named or has the id "no_such_user_anywhere" in the built-in user store. disable-user changes that store\'s records; ' +
        "keep the scopes and the disabled state of your app's own users in your app (revoke-user, sessions and user act on any user id).",
      rest: [''],
    });
    expect(JSON.parse(auditLine!)).toMatchObject({ level: 30, command: 'disable-user', target: 'no_such_user_anywhere', outcome: 'unknown-user' });
    expect(unavailable.code).toBe(2);
    expect(unavailable.stdout).toBe('');
    expect(unavailable.stderr).toMatch(new RegExp(`^graphql-revoke: store unavailable: cannot reach Redis \\(127\\.0\\.0\\.1:${port}\\): [^\\n]+\\n$`));
  });

  it('revoke-user takes an id without a built-in record as a raw user id (--json), and warns on a key prefix with no data', async () => {
    const raw = await cli(['revoke-user', 'app-user-42', '--json'], env);
    expect(raw.code).toBe(0);
    expect(JSON.parse(raw.stdout)).toEqual({ command: 'revoke-user', userId: 'app-user-42', username: null, userRecord: false, tokensRevoked: 0 });
    expect(JSON.parse(raw.stderr.trim())).toMatchObject({ audit: true, action: 'revokeUser', target: { userId: 'app-user-42' }, outcome: 'done', userRecord: false });

    const wrong = await cli(['user', 'app-user-42'], { ...env, REDIS_KEY_PREFIX: 'nothing-here' });
    expect(wrong.code).toBe(0);
    expect(wrong.stderr.split('\n')[0]).toBe(
      `graphql-revoke: warning: the Redis at 127.0.0.1:${redis.port} (database 0) holds no graphql-revoke data under the key prefix "nothing-here" ` +
        "(no key matches nothing-here:v1:*): is this the server's Redis database, and REDIS_KEY_PREFIX the one the server uses? Every user looks unknown here.",
    );
  });
});
