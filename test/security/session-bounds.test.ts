/**
 * Per-user bounds over HTTP on Redis (issue 18): no account-state oracle in refreshSession,
 * failed refreshes and successful sign-ins limited (429 RATE_LIMITED with Retry-After), the
 * session cap's two policies as a client sees them.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { openLive } from '../helpers/live.js';
import { startTestServer, type HttpAnswer, type TestServer } from '../helpers/test-server.js';

const PASSWORD = 'correct horse battery';
const SIGN_IN = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken refreshToken session { id } } }';
const REFRESH = 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }';

const ext = (a: HttpAnswer) => a.body?.errors?.[0]?.extensions as { code?: string; reason?: string } | undefined;

function signIn(server: TestServer, username: string, headers: Record<string, string> = {}) {
  return server.graphql(SIGN_IN, { variables: { u: username, p: PASSWORD }, headers });
}

describe('per-user bounds over HTTP', () => {
  const servers: TestServer[] = [];
  const start = async (env: Record<string, string>) => {
    const s = await startTestServer({ redisUrl: requireRedisUrl(), env });
    servers.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  let server: TestServer;
  beforeAll(async () => {
    server = await start({ REFRESH_REUSE_GRACE_SECONDS: '0' });
  });

  it('a made-up refresh token naming a disabled account answers REFRESH_TOKEN_INVALID, not ACCOUNT_DISABLED; a real one of it answers ACCOUNT_DISABLED', async () => {
    const victim = await server.signUp(undefined, PASSWORD);
    const pair = (await signIn(server, victim.username)).body.data.signIn;
    await server.users.setDisabled!(victim.userId, true);
    const [user, sid] = (pair.refreshToken as string).split('.');
    for (const madeUp of [`${user}.${sid}.1.${'A'.repeat(43)}`, `${user}.${'B'.repeat(22)}.7.${'C'.repeat(43)}`]) {
      const answer = await server.graphql(REFRESH, { variables: { r: madeUp } });
      expect(answer.status).toBe(200);
      expect(ext(answer)).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    }
    const real = await server.graphql(REFRESH, { variables: { r: pair.refreshToken } });
    expect(ext(real)).toEqual({ code: 'UNAUTHENTICATED', reason: 'ACCOUNT_DISABLED' });
  });

  it('someone who knows only the session id (it is in every access token) cannot end the session with a made-up token', async () => {
    const alice = await server.signUp(undefined, PASSWORD);
    const pair = (await signIn(server, alice.username)).body.data.signIn;
    const [user, sid] = (pair.refreshToken as string).split('.');
    for (const g of ['1', '2', '99']) {
      expect(ext(await server.graphql(REFRESH, { variables: { r: `${user}.${sid}.${g}.${'Z'.repeat(43)}` } }))?.reason).toBe('REFRESH_TOKEN_INVALID');
    }
    expect((await server.graphql('{ me { id } }', { token: pair.accessToken })).status).toBe(200);
    expect((await server.graphql(REFRESH, { variables: { r: pair.refreshToken } })).body.data.refreshSession.refreshToken).toBeTruthy();
  });

  it('failed refreshes are limited per address: 429 RATE_LIMITED with Retry-After, even for a good token', async () => {
    const limited = await start({ REFRESH_MAX_FAILURES_PER_ADDRESS: '3', REFRESH_FAILURE_WINDOW: '600' });
    const alice = await limited.signUp(undefined, PASSWORD);
    const good = (await signIn(limited, alice.username)).body.data.signIn.refreshToken as string;
    for (let i = 0; i < 3; i += 1) expect(ext(await limited.graphql(REFRESH, { variables: { r: `nonsense${i}` } }))?.reason).toBe('REFRESH_TOKEN_INVALID');
    const refused = await limited.graphql(REFRESH, { variables: { r: good } });
    expect(refused.status).toBe(429);
    expect(ext(refused)?.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('successful sign-ins are limited per username (SIGNIN_MAX_PER_USERNAME) and per address (SIGNIN_MAX_PER_ADDRESS)', async () => {
    const limited = await start({ SIGNIN_MAX_PER_USERNAME: '3', SIGNIN_MAX_PER_ADDRESS: '5', SIGNIN_SUCCESS_WINDOW: '600' });
    const alice = await limited.signUp(undefined, PASSWORD);
    for (let i = 0; i < 3; i += 1) expect((await signIn(limited, alice.username)).body.data?.signIn?.accessToken).toBeTruthy();
    const refused = await signIn(limited, alice.username);
    expect(refused.status).toBe(429);
    expect(ext(refused)?.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Per address: 5 from 127.0.0.1 over any accounts (the 4 above, refused one included, 1 here, then refused).
    const bob = await limited.signUp(undefined, PASSWORD);
    expect((await signIn(limited, bob.username)).status).toBe(200);
    expect((await signIn(limited, bob.username)).status).toBe(429);
  });

  it('refuse-new: signIn with the right password at the cap answers SESSION_LIMIT_REACHED (HTTP 200) and changes nothing', async () => {
    const capped = await start({ SESSIONS_MAX_PER_USER: '2', SESSIONS_LIMIT_POLICY: 'refuse-new' });
    const alice = await capped.signUp(undefined, PASSWORD); // session 1
    const second = (await signIn(capped, alice.username)).body.data.signIn;
    const refused = await signIn(capped, alice.username);
    expect(refused.status).toBe(200);
    expect(ext(refused)?.code).toBe('SESSION_LIMIT_REACHED');
    expect(refused.body.data).toBeNull();
    const listed = await capped.graphql('{ mySessions { id } }', { token: alice.token });
    expect(listed.body.data.mySessions).toHaveLength(2);
    expect((await capped.graphql('{ me { id } }', { token: second.accessToken })).status).toBe(200);
  });

  it('evict-oldest: the least recently used session ends like cancelSession (401 TOKEN_REVOKED, REFRESH_TOKEN_INVALID)', async () => {
    const capped = await start({ SESSIONS_MAX_PER_USER: '2' });
    const alice = await capped.signUp(undefined, PASSWORD); // the oldest session
    const second = (await signIn(capped, alice.username)).body.data.signIn;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const third = (await signIn(capped, alice.username)).body.data.signIn;
    const me = await capped.graphql('{ me { id } }', { token: alice.token });
    expect(me.status).toBe(401);
    expect(ext(me)?.reason).toBe('TOKEN_REVOKED');
    for (const t of [second.accessToken, third.accessToken]) expect((await capped.graphql('{ me { id } }', { token: t })).status).toBe(200);
    const listed = await capped.graphql('{ mySessions { id } }', { token: third.accessToken });
    expect(listed.body.data.mySessions.map((s: { id: string }) => s.id).sort()).toEqual([second.session.id, third.session.id].sort());
  });

  it('a refused admin attempt (no scope) is logged at info with actor, field and outcome', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logged = await startTestServer({ redisUrl: requireRedisUrl(), logger: pino({ level: 'info' }, sink) });
    servers.push(logged);
    const mallory = await logged.signUp(undefined, PASSWORD);
    const answer = await logged.graphql(`mutation { setUserDisabled(userId: "${'x'.repeat(300)}", disabled: true) }`, { token: mallory.token });
    expect(answer.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 30, audit: true, actor: { kind: 'user', userId: mallory.userId }, field: 'Mutation.setUserDisabled', outcome: 'refused', reason: 'INSUFFICIENT_SCOPE' }),
    );
  });

  it('evict-oldest over WebSocket: the evicted session\'s socket gets ENDED with reason SESSION_LIMIT_EVICTED, then closes with 4403', async () => {
    const capped = await start({ SESSIONS_MAX_PER_USER: '2' });
    const alice = await capped.signUp(undefined, PASSWORD); // the oldest session, watched
    const socket = openLive(capped.wsUrl, alice.token);
    await socket.connected;
    const events = socket.subscribe('subscription { sessionEvents { kind reason session { id current } } }');
    const second = (await signIn(capped, alice.username)).body.data.signIn;
    expect(await events.first).toEqual({ data: { sessionEvents: { kind: 'CREATED', reason: null, session: { id: second.session.id, current: false } } } });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const third = await signIn(capped, alice.username);
    expect(third.status).toBe(200);
    const closed = await socket.closed;
    expect(closed.code).toBe(4403);
    expect(events.results).toContainEqual({ data: { sessionEvents: { kind: 'ENDED', reason: 'SESSION_LIMIT_EVICTED', session: expect.objectContaining({ current: true }) } } });
    const me = await capped.graphql('{ me { id } }', { token: alice.token });
    expect([me.status, ext(me)?.reason]).toEqual([401, 'TOKEN_REVOKED']);
    await socket.dispose();
  });
});
