import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { EXIT_BAD_INPUT, EXIT_OK, EXIT_STORE_UNAVAILABLE, runCli, USAGE } from '../../src/admin/cli/run.js';
import { getFreePort } from '../helpers/free-port.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, uniqueUsername, type TestServer } from '../helpers/test-server.js';

/** Runs the command line in process, with its output and audit lines captured. */
async function run(argv: string[], env: Record<string, string | undefined>) {
  let stdout = '';
  let stderr = '';
  const audit: Record<string, unknown>[] = [];
  const code = await runCli(argv, {
    env,
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    auditDestination: new Writable({
      write(chunk, _encoding, done) {
        audit.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  });
  return { code, stdout, stderr, audit };
}

describe('the command line, in process, on Redis', () => {
  let api: TestServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    const keyPrefix = `clip${process.pid}x${Date.now().toString(36)}`;
    api = await startTestServer({ redisUrl: requireRedisUrl(), keyPrefix });
    env = { REDIS_URL: requireRedisUrl(), REDIS_KEY_PREFIX: keyPrefix };
  });
  afterAll(() => api?.close());

  it('--help prints the usage with every command and exits 0', async () => {
    const help = await run(['--help'], {});
    expect(help).toMatchObject({ code: EXIT_OK, stdout: USAGE, stderr: '' });
    for (const command of ['grant-scopes', 'revoke-scopes', 'revoke-user', 'disable-user', 'enable-user', 'sessions']) expect(USAGE).toContain(command);
  });

  it('exits 1 with exactly one line for every kind of bad input, and writes nothing', async () => {
    const cases: [string[], Record<string, string | undefined>, string][] = [
      [[], env, 'No command given. Run graphql-revoke --help for the commands.'],
      [['frobnicate'], env, 'Unknown command "frobnicate". Run graphql-revoke --help for the commands.'],
      [['revoke-user'], env, 'revoke-user needs a user (username or user id).'],
      [['revoke-user', 'a', 'b'], env, 'revoke-user takes one user, got extra arguments: b.'],
      [['sessions'], env, 'sessions needs a user (username or user id).'],
      [['sessions', 'someone'], { ...env, LOG_LEVEL: 'loud' }, 'configuration error: LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "loud"'],
      [['revoke-user', 'someone'], { ...env, ACCESS_TOKEN_TTL: 'soon' }, 'configuration error: ACCESS_TOKEN_TTL must be an integer between 1 and 31536000, got "soon"'],
      [['grant-scopes', 'someone'], env, 'grant-scopes needs at least one scope after the user.'],
      [['grant-scopes', 'someone', 'has space'], env, 'Invalid scope "has space": 1 to 128 printable ASCII characters, without spaces, quotes or backslashes.'],
      [['revoke-scopes', 'someone', 'quo"te'], env, 'Invalid scope "quo\\"te": 1 to 128 printable ASCII characters, without spaces, quotes or backslashes.'],
      [['disable-user', 'no_such_user_anywhere'], env, 'No user is named or has the id "no_such_user_anywhere".'],
      [['revoke-user', 'someone'], { REDIS_KEY_PREFIX: 'x' }, 'No Redis configured: set REDIS_URL (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS) as for the server.'],
      [['revoke-user', 'someone'], { REDIS_URL: 'redis://h:1', REDIS_SENTINELS: 'h:2', REDIS_SENTINEL_NAME: 'm' }, 'configuration error: Set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS (got REDIS_URL and REDIS_SENTINELS)'],
    ];
    for (const [argv, environment, message] of cases) {
      const result = await run(argv, environment);
      expect(result, argv.join(' ')).toMatchObject({ code: EXIT_BAD_INPUT, stdout: '', stderr: `graphql-revoke: ${message}\n` });
      // An action on an unknown user is audited too (issue 18); bad input before any action is not.
      if (argv[1] === 'no_such_user_anywhere') {
        expect(result.audit).toEqual([expect.objectContaining({ command: 'disable-user', target: 'no_such_user_anywhere', outcome: 'unknown-user' })]);
      } else {
        expect(result.audit).toEqual([]);
      }
    }
  });

  it('exits 2 with one line when Redis does not answer', async () => {
    const port = await getFreePort();
    const result = await run(['revoke-user', 'someone'], { REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(result.code).toBe(EXIT_STORE_UNAVAILABLE);
    expect(result.stderr).toMatch(new RegExp(`^graphql-revoke: store unavailable: cannot reach Redis \\(127\\.0\\.0\\.1:${port}\\): .+\\n$`));
  });

  it('grant-scopes and revoke-scopes change what the next sign-in token carries; tokens:admin ends the live tokens', async () => {
    const user = await api.signUp(uniqueUsername('dora'));
    const granted = await run(['grant-scopes', user.username, 'b:read', 'a:write'], env);
    expect(granted.code).toBe(EXIT_OK);
    expect(granted.stdout).toBe(`Granted b:read a:write to ${user.username} (${user.userId}). Scopes now: a:write b:read.\n`);
    expect(granted.audit).toEqual([expect.objectContaining({ msg: 'admin: grantScopes', actor: expect.objectContaining({ kind: 'cli' }), target: { userId: user.userId }, outcome: 'done', tokensRevoked: 0 })]);
    // Not tokens:admin: the live token keeps working.
    expect((await api.graphql('{ me { id } }', { token: user.token })).body.data.me.id).toBe(user.userId);

    const admin = await run(['grant-scopes', user.userId, 'tokens:admin'], env);
    expect(admin.stdout).toBe(
      `Granted tokens:admin to ${user.username} (${user.userId}). Scopes now: a:write b:read tokens:admin.\n` +
        'tokens:admin changed: ended every session and token of the user (1 token).\n',
    );
    expect((await api.graphql('{ me { id } }', { token: user.token })).status).toBe(401);

    const removed = await run(['revoke-scopes', user.username, 'a:write', 'tokens:admin'], env);
    expect(removed.code).toBe(EXIT_OK);
    expect(removed.stdout).toContain('Scopes now: b:read.');
    const token = await api.signIn(user.username, user.password);
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).scope).toBe('b:read');
  });

  it('disable-user ends the live tokens and refuses sign-in with ACCOUNT_DISABLED; enable-user lets the user back', async () => {
    const user = await api.signUp(uniqueUsername('ed'));
    const disabled = await run(['disable-user', user.userId], env);
    expect(disabled).toMatchObject({ code: EXIT_OK, stdout: `Disabled ${user.username} (${user.userId}); revoked 1 token.\n`, stderr: '' });
    expect(disabled.audit).toEqual([expect.objectContaining({ msg: 'admin: disableUser', target: { userId: user.userId }, outcome: 'done', tokensRevoked: 1 })]);
    expect((await api.graphql('{ me { id } }', { token: user.token })).status).toBe(401);
    const refused = await api.graphql('mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }', {
      variables: { u: user.username, p: user.password },
    });
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'ACCOUNT_DISABLED' });
    expect((await run(['disable-user', user.username], env)).stdout).toBe(`Disabled ${user.username} (${user.userId}) (it already was); revoked 0 tokens.\n`);

    const enabled = await run(['enable-user', user.username], env);
    expect(enabled).toMatchObject({ code: EXIT_OK, stdout: `Enabled ${user.username} (${user.userId}).\n` });
    expect(await api.signIn(user.username, user.password)).toEqual(expect.any(String));
  });

  it('revoke-user by username or id prints how many tokens it revoked', async () => {
    const user = await api.signUp(uniqueUsername('flo'));
    await api.signIn(user.username, user.password);
    expect((await run(['revoke-user', user.username], env)).stdout).toBe(`Revoked 2 tokens of ${user.username} (${user.userId}).\n`);
    expect((await run(['revoke-user', user.userId], env)).stdout).toBe(`Revoked 0 tokens of ${user.username} (${user.userId}).\n`);
  });

  it('sessions prints the live sessions as a table, newest first; revoke-user ends them all', async () => {
    const user = await api.signUp(uniqueUsername('gus'));
    const signIn = await api.graphql('mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { session { id } } }', {
      variables: { u: user.username, p: user.password },
      headers: { 'user-agent': 'curl/8.5.0' },
    });
    const newest = signIn.body.data.signIn.session.id as string;
    const listed = await run(['sessions', user.username], env);
    expect(listed.code).toBe(EXIT_OK);
    const lines = listed.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`2 live sessions of ${user.username} (${user.userId}):`);
    expect(lines[1]).toMatch(/^SESSION +CREATED +LAST USED +EXPIRES +IP ADDRESS +USER AGENT$/);
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(new RegExp(`^${newest} +\\d{4}-\\d\\d-\\d\\dT[^ ]+Z +[^ ]+Z +[^ ]+Z +127\\.0\\.0\\.1 +curl/8\\.5\\.0$`));
    expect(listed.audit).toEqual([expect.objectContaining({ msg: 'admin: listSessions', outcome: 'done', sessions: 2 })]);

    expect((await run(['revoke-user', user.username], env)).stdout).toBe(`Revoked 2 tokens of ${user.username} (${user.userId}).\n`);
    expect((await run(['sessions', user.userId], env)).stdout).toBe(`No live session of ${user.username} (${user.userId}).\n`);
  });
});
