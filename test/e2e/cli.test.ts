import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { EXIT_BAD_INPUT, EXIT_OK, EXIT_STORE_UNAVAILABLE, runCli, USAGE } from '../../src/admin/cli/run.js';
import { getFreePort } from '../helpers/free-port.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { createKeySpace } from '../../src/redis/keys.js';
import { startTestServer, uniqueUsername, type TestServer } from '../helpers/test-server.js';

const NO_RECORD = (ref: string, command: string) =>
  `No user is named or has the id "${ref}" in the built-in user store. ${command} changes that store's records; keep the scopes and the disabled state of your app's own users in your app (revoke-user, sessions and user act on any user id).`;

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
    // The key prefix holds data, as the server's does once anyone signed up: no "wrong Redis" warning.
    await api.signUp(uniqueUsername('first'));
  });
  afterAll(() => api?.close());

  it('--help prints the usage with every command and exits 0', async () => {
    const help = await run(['--help'], {});
    expect(help).toMatchObject({ code: EXIT_OK, stdout: USAGE, stderr: '' });
    for (const command of ['user', 'grant-scopes', 'revoke-scopes', 'revoke-user', 'disable-user', 'enable-user', 'sessions', '--json']) expect(USAGE).toContain(command);
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
      [['disable-user', 'no_such_user_anywhere'], env, NO_RECORD('no_such_user_anywhere', 'disable-user')],
      [['grant-scopes', 'no_such_user_anywhere', 'a:b', '--json'], env, NO_RECORD('no_such_user_anywhere', 'grant-scopes')],
      [['revoke-user', 'bell\u0007'], env, 'A user is a username or a user id of 1 to 256 characters, without control characters.'],
      [['user', 'x'.repeat(257)], env, 'A user is a username or a user id of 1 to 256 characters, without control characters.'],
      [['revoke-user', 'someone'], { REDIS_KEY_PREFIX: 'x' }, 'No Redis configured: set REDIS_URL (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS) as for the server.'],
      [['revoke-user', 'someone'], { REDIS_URL: 'redis://h:1', REDIS_SENTINELS: 'h:2', REDIS_SENTINEL_NAME: 'm' }, 'configuration error: Set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS (got REDIS_URL and REDIS_SENTINELS)'],
    ];
    for (const [argv, environment, message] of cases) {
      const result = await run(argv, environment);
      expect(result, argv.join(' ')).toMatchObject({ code: EXIT_BAD_INPUT, stdout: '', stderr: `graphql-revoke: ${message}\n` });
      // An action on an unknown user is audited too (issue 18); bad input before any action is not.
      if (argv[1] === 'no_such_user_anywhere') {
        expect(result.audit).toEqual([expect.objectContaining({ command: argv[0], target: 'no_such_user_anywhere', outcome: 'unknown-user' })]);
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
  it('user shows the id, username, scopes, disabled state and live session count, as text and --json', async () => {
    const user = await api.signUp(uniqueUsername('hal'));
    await api.signIn(user.username, user.password);
    await run(['grant-scopes', user.username, 'reports:read'], env);
    await run(['disable-user', user.username], env);
    await run(['enable-user', user.username], env);
    await api.signIn(user.username, user.password);
    const shown = await run(['user', user.username], env);
    expect(shown).toMatchObject({
      code: EXIT_OK,
      stdout: `id: ${user.userId}\nusername: ${user.username}\nscopes: reports:read\ndisabled: no\nlive sessions: 1\n`,
      stderr: '',
    });
    expect(shown.audit).toEqual([expect.objectContaining({ msg: 'admin: showUser', target: { userId: user.userId }, outcome: 'done', sessions: 1 })]);
    await run(['disable-user', user.userId], env);
    const json = await run(['user', '--json', user.userId], env);
    expect(json.code).toBe(EXIT_OK);
    expect(JSON.parse(json.stdout)).toEqual({
      command: 'user',
      userId: user.userId,
      username: user.username,
      userRecord: true,
      scopes: ['reports:read'],
      disabled: true,
      sessions: 0,
    });
    expect(json.stdout.trimEnd().split('\n')).toHaveLength(1);
  });

  it('acts on a raw user id that has no built-in user record: user, sessions and revoke-user; scopes and disabling refused', async () => {
    // A library user's user: sessions and tokens under its id, its record in the app's own store.
    // Made here by signing up, then deleting the built-in record (and its username index).
    const user = await api.signUp(uniqueUsername('lib'));
    const pair = await api.graphql('mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken refreshToken } }', {
      variables: { u: user.username, p: user.password },
    });
    const { accessToken, refreshToken } = pair.body.data.signIn as { accessToken: string; refreshToken: string };
    const keys = createKeySpace(env.REDIS_KEY_PREFIX);
    expect(await api.redis!.del(keys.user(user.userId), keys.username(user.username.toLowerCase()))).toBe(2);
    expect(await api.users.findById(user.userId)).toBeUndefined();

    const shown = await run(['user', user.userId], env);
    expect(shown).toMatchObject({
      code: EXIT_OK,
      stdout:
        `id: ${user.userId}\nusername: - (no built-in user record: a user of your app's own store, or no such user)\n` +
        "scopes: - (kept by your app's user store)\ndisabled: - (kept by your app's user store)\nlive sessions: 2\n",
      stderr: '',
    });
    expect(JSON.parse((await run(['user', user.userId, '--json'], env)).stdout)).toEqual({
      command: 'user',
      userId: user.userId,
      username: null,
      userRecord: false,
      scopes: null,
      disabled: null,
      sessions: 2,
    });

    const listed = await run(['sessions', user.userId], env);
    expect(listed.code).toBe(EXIT_OK);
    expect(listed.stdout.split('\n')[0]).toBe(`2 live sessions of user id ${user.userId} (no built-in user record):`);
    const listedJson = JSON.parse((await run(['sessions', '--json', user.userId], env)).stdout);
    expect(listedJson).toMatchObject({ command: 'sessions', userId: user.userId, userRecord: false, username: null });
    expect(listedJson.sessions).toHaveLength(2);
    expect(listedJson.sessions[0]).toEqual(expect.objectContaining({ id: expect.any(String), createdAt: expect.any(String), current: false }));

    for (const command of ['grant-scopes', 'revoke-scopes', 'disable-user', 'enable-user']) {
      const refused = await run(command.endsWith('scopes') ? [command, user.userId, 'a:b'] : [command, user.userId], env);
      expect(refused, command).toMatchObject({ code: EXIT_BAD_INPUT, stdout: '', stderr: `graphql-revoke: ${NO_RECORD(user.userId, command)}\n` });
    }

    const revoked = await run(['revoke-user', user.userId, '--json'], env);
    expect(revoked).toMatchObject({ code: EXIT_OK, stderr: '' });
    expect(JSON.parse(revoked.stdout)).toEqual({ command: 'revoke-user', userId: user.userId, username: null, userRecord: false, tokensRevoked: 2 });
    expect(revoked.audit).toEqual([expect.objectContaining({ msg: 'admin: revokeUser', target: { userId: user.userId }, outcome: 'done', tokensRevoked: 2, userRecord: false })]);
    expect((await api.graphql('{ me { id } }', { token: accessToken })).body.errors[0].extensions).toMatchObject({ reason: 'TOKEN_REVOKED' });
    const refresh = await api.graphql('mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }', { variables: { r: refreshToken } });
    expect(refresh.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    expect((await run(['revoke-user', user.userId], env)).stdout).toBe(`Revoked 0 tokens of user id ${user.userId} (no built-in user record).\n`);
    expect((await run(['sessions', user.userId], env)).stdout).toBe(`No live session of user id ${user.userId} (no built-in user record).\n`);
  });

  it('--json prints one JSON object for every command that prints', async () => {
    const user = await api.signUp(uniqueUsername('jo'));
    const json = async (argv: string[]) => {
      const result = await run([...argv, '--json'], env);
      expect(result.code, argv.join(' ')).toBe(EXIT_OK);
      expect(result.stdout.endsWith('\n') && result.stdout.trimEnd().split('\n').length === 1, argv.join(' ')).toBe(true);
      return JSON.parse(result.stdout) as Record<string, unknown>;
    };
    const who = { userId: user.userId, username: user.username, userRecord: true };
    expect(await json(['grant-scopes', user.username, 'tokens:admin'])).toEqual({ command: 'grant-scopes', ...who, scopes: ['tokens:admin'], before: [], after: ['tokens:admin'], tokensRevoked: 1 });
    expect(await json(['revoke-scopes', user.username, 'tokens:admin'])).toEqual({ command: 'revoke-scopes', ...who, scopes: ['tokens:admin'], before: ['tokens:admin'], after: [], tokensRevoked: 0 });
    expect(await json(['disable-user', user.username])).toEqual({ command: 'disable-user', ...who, disabled: true, wasDisabled: false, tokensRevoked: 0 });
    expect(await json(['enable-user', user.username])).toEqual({ command: 'enable-user', ...who, disabled: false, wasDisabled: true, tokensRevoked: 0 });
    await api.signIn(user.username, user.password);
    expect(await json(['sessions', user.username])).toEqual({ command: 'sessions', ...who, sessions: [expect.objectContaining({ current: false })] });
    expect(await json(['revoke-user', user.username])).toEqual({ command: 'revoke-user', ...who, tokensRevoked: 1 });
    expect(await json(['user', user.username])).toEqual({ command: 'user', ...who, scopes: [], disabled: false, sessions: 0 });
  });

  it('warns on stderr when the Redis it reaches holds no data under the key prefix (wrong database or prefix)', async () => {
    const user = await api.signUp(uniqueUsername('kim'));
    const right = await run(['user', user.username], env);
    expect(right).toMatchObject({ code: EXIT_OK, stderr: '' });

    const prefix = `${env.REDIS_KEY_PREFIX}wrong`;
    const wrongPrefix = await run(['user', user.username], { ...env, REDIS_KEY_PREFIX: prefix });
    const url = new URL(env.REDIS_URL!);
    expect(wrongPrefix.stderr).toBe(
      `graphql-revoke: warning: the Redis at ${url.host} (database 0) holds no graphql-revoke data under the key prefix "${prefix}" ` +
        `(no key matches ${prefix}:v1:*): is this the server's Redis database, and REDIS_KEY_PREFIX the one the server uses? Every user looks unknown here.\n`,
    );
    // Taken as a raw id there, with the warning that says why it is unknown.
    expect(wrongPrefix.stdout).toContain(`id: ${user.username}\nusername: - (no built-in user record`);

    const wrongDatabase = await run(['user', user.username], { ...env, REDIS_URL: `redis://${url.host}/7` });
    expect(wrongDatabase.stderr).toMatch(new RegExp(`^graphql-revoke: warning: the Redis at ${url.host.replace(/\./g, '\\.')} \\(database 7\\) holds no graphql-revoke data`));
  });
});
