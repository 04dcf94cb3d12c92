/**
 * The example browser app (examples/browser-client: Apollo Client 4 with the links of
 * docs/clients.md, graphql-ws for the live connection), bundled with esbuild, served from
 * another origin (another port) than the API, and driven in a real headless Chromium
 * (Debian's `chromium`, through playwright-core), each "device" a browser context of its own:
 * - sign in, `me`, a typo that must not sign out, a retried 503, and a second device that
 *   cancels every token, after which the first page's next call is refused (TOKEN_REVOKED)
 *   and it shows "signed out";
 * - a stale header: the page's access token cancelled behind its back, signIn through the
 *   links (whose header link leaves the token off signIn, signUp and refreshSession) works,
 *   and refreshSession sent with the revoked token in Authorization and the still valid
 *   refresh token works too (the API ignores a refused token there);
 * - refresh, against an API with 2-second access tokens: past the expiry `me` gets 401
 *   TOKEN_EXPIRED, the page calls refreshSession and retries `me` once, transparently (the
 *   requests are counted); then a second device ends the first one's session
 *   (cancelSession with its id) and the first page's next call, its refresh refused
 *   (REFRESH_TOKEN_INVALID), shows "signed out";
 * - live: the first page subscribes to sessionEvents over graphql-ws and sees the second
 *   device's session CREATED; the second device signs out everywhere and the first page's
 *   socket is closed with 4403 and the page shows "signed out" within 1.5 s, untouched;
 * - renewal: against an API with 3-second access tokens, the page keeps ONE socket open for
 *   more than three token lifetimes, refreshing ahead of expiry and renewing the socket
 *   in-band (renewConnection), and misses no event; then another device's cancelSession
 *   closes it (4403) within a second;
 * - step-up: an admin action under ADMIN_FRESH_AUTH_MAX_AGE, with a password check grown old,
 *   gets INSUFFICIENT_USER_AUTHENTICATION; the page asks for the password (a real prompt),
 *   calls reauthenticate and retries the action once, which succeeds.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SCOPE, createUserAdmin } from '../../src/admin/user-admin.js';
import type { TokenRef } from '../../src/auth/token.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const EXAMPLE = new URL('../../examples/browser-client/', import.meta.url);
/** Debian's chromium (apt-get install chromium); CHROMIUM_PATH to use another binary. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHORT_TTL_SECONDS = 2;
/** The access-token lifetime of the renewal test's API. */
const LIVE_TTL_SECONDS = 3;
const FRESH_MAX_AGE = 60;

/**
 * The in-memory store whose next `failLookups` token checks fail, as with Redis away for a
 * moment. A MemoryRevocationStore itself, so that the server builds its in-memory sessions on it.
 */
class FlakyStore extends MemoryRevocationStore {
  failLookups = 0;
  failed = 0;
  override async isRevoked(token: TokenRef): Promise<boolean> {
    if (this.failLookups > 0) {
      this.failLookups -= 1;
      this.failed += 1;
      throw new StoreUnavailableError('isRevoked');
    }
    return super.isRevoked(token);
  }
}

let bundleDir: string;
let site: Server;
let siteOrigin: string;
let api: TestServer;
/** The same API with 2-second access tokens (and no clock tolerance): a token expires while the test waits. */
let shortApi: TestServer;
let store: FlakyStore;
/** 3-second access tokens, no clock tolerance: a socket not renewed in time is closed. */
let liveApi: TestServer;
let liveMetrics: Metrics;
/** ADMIN_FRESH_AUTH_MAX_AGE=60, on a clock `ahead` seconds in front of the real one. */
let freshApi: TestServer;
let ahead = 0;
let browser: Browser;
const pageErrors: string[] = [];

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  bundleDir = mkdtempSync(join(tmpdir(), 'graphql-revoke-browser-'));
  await build({
    entryPoints: [new URL('src/main.ts', EXAMPLE).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(bundleDir, 'main.js'),
    logLevel: 'error',
  });
  const files: Record<string, [string, Buffer]> = {
    '/': ['text/html; charset=utf-8', readFileSync(new URL('index.html', EXAMPLE))],
    '/main.js': ['text/javascript; charset=utf-8', readFileSync(join(bundleDir, 'main.js'))],
  };
  site = createServer((req, res) => {
    const file = files[(req.url ?? '/').split('?')[0] as string];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  siteOrigin = `http://127.0.0.1:${await listen(site)}`;

  store = new FlakyStore({ sweepIntervalMs: 0 });
  // The API on its own port, allowing the site's origin: a real cross-origin setup.
  api = await startTestServer({ env: { CORS_ORIGINS: siteOrigin }, revocations: store });
  shortApi = await startTestServer({ env: { CORS_ORIGINS: siteOrigin, ACCESS_TOKEN_TTL: String(SHORT_TTL_SECONDS), JWT_CLOCK_TOLERANCE: '0' } });
  liveMetrics = createMetrics();
  liveApi = await startTestServer({
    env: { CORS_ORIGINS: siteOrigin, ACCESS_TOKEN_TTL: String(LIVE_TTL_SECONDS), JWT_CLOCK_TOLERANCE: '0' },
    metrics: liveMetrics,
  });
  freshApi = await startTestServer({ env: { CORS_ORIGINS: siteOrigin, ADMIN_FRESH_AUTH_MAX_AGE: String(FRESH_MAX_AGE) }, now: () => Date.now() + ahead * 1000 });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright adds --no-sandbox (we run as root) and a fresh temporary --user-data-dir.
    args: ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await shortApi?.close();
  await liveApi?.close();
  await freshApi?.close();
  await new Promise((resolve) => site?.close(resolve));
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

/** A page in its own browser context: another device, sharing nothing with the others. */
async function openDevice(server: TestServer = api): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${siteOrigin}/?api=${encodeURIComponent(server.url)}`);
  await page.locator('#output').filter({ hasText: 'ready' }).waitFor();
  return page;
}

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#sign-in');
}

const status = (page: Page) => page.locator('#status');
const output = (page: Page) => page.locator('#output');
const sessionId = async (page: Page) => (await page.locator('#session').textContent()) ?? '';
const live = (page: Page) => page.locator('#live');
const events = (page: Page) => page.locator('#events li').allTextContents();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The GraphQL operations a page sent (their operation names), in order; and the HTTP statuses it got. */
function recordTraffic(page: Page): { operations: string[]; statuses: number[] } {
  const traffic = { operations: [] as string[], statuses: [] as number[] };
  page.on('request', (request) => {
    if (request.method() !== 'POST') return;
    const name = /^\s*(?:query|mutation)\s+(\w+)/.exec(String(JSON.parse(request.postData() ?? '{}').query ?? ''))?.[1];
    if (name) traffic.operations.push(name);
  });
  page.on('response', (response) => {
    if (response.request().method() === 'POST') traffic.statuses.push(response.status());
  });
  return traffic;
}

describe('the example browser app, on another origin, in headless Chromium', () => {
  it('signs in, reads me, survives a typo and a 503, and shows "signed out" once another device cancelled its token', async () => {
    const { username, password } = await api.signUp();
    const laptop = await openDevice();
    expect(new URL(laptop.url()).origin).not.toBe(new URL(api.url).origin);

    await signIn(laptop, username, password);
    await expect.poll(() => status(laptop).textContent()).toBe(`signed in as ${username}`);
    await laptop.click('#me');
    await expect.poll(() => output(laptop).textContent()).toBe(`me: ${username}`);

    // A wrong password is INVALID_CREDENTIALS on signIn: a message, not a sign-out.
    await signIn(laptop, username, 'not the password');
    await expect.poll(() => output(laptop).textContent()).toBe('wrong username or password');
    expect(await status(laptop).textContent()).toBe(`signed in as ${username}`);

    // The token store fails once: 503 AUTH_UNAVAILABLE, retried by the link after Retry-After.
    await laptop.locator('#output').evaluate((node) => {
      node.textContent = '';
    });
    store.failLookups = 1;
    await laptop.click('#me');
    await expect.poll(() => output(laptop).textContent(), { timeout: 15_000 }).toBe(`me: ${username}`);
    expect(store.failed).toBe(1);

    // Another device signs in as the same user and signs out everywhere.
    const phone = await openDevice();
    await signIn(phone, username, password);
    await expect.poll(() => status(phone).textContent()).toBe(`signed in as ${username}`);
    await phone.click('#cancel-all');
    // signUp's token, the laptop's and the phone's.
    await expect.poll(() => output(phone).textContent()).toBe('cancelled 3 tokens');
    expect(await status(phone).textContent()).toBe('signed out');

    // The laptop's next call is refused (401 TOKEN_REVOKED) and the page signs out.
    await laptop.click('#me');
    await expect.poll(() => status(laptop).textContent()).toBe('signed out');
    expect(await output(laptop).textContent()).toBe('session ended: TOKEN_REVOKED');
    expect(pageErrors).toEqual([]);
  });

  it('is not trapped by a revoked token still in its header: signIn through the links and refreshSession with a valid refresh token both work', async () => {
    const { username, password } = await api.signUp();
    const laptop = await openDevice();
    const pairs: { accessToken: string; refreshToken: string }[] = [];
    laptop.on('response', async (response) => {
      if (response.request().method() !== 'POST' || !/SignIn/.test(response.request().postData() ?? '')) return;
      const pair = ((await response.json()) as { data?: { signIn?: { accessToken: string; refreshToken: string } } }).data?.signIn;
      if (pair) pairs.push(pair);
    });
    const traffic = recordTraffic(laptop);
    await signIn(laptop, username, password);
    await expect.poll(() => status(laptop).textContent()).toBe(`signed in as ${username}`);
    await expect.poll(() => pairs.length).toBe(1);
    const first = pairs[0]!;

    // The access token is cancelled behind the page's back (its session, and refresh token, live on).
    const cancelled = await api.graphql('mutation { cancelToken }', { token: first.accessToken });
    expect(cancelled.body.data).toEqual({ cancelToken: true });
    expect((await api.graphql('{ me { username } }', { token: first.accessToken })).body.errors[0].extensions.reason).toBe('TOKEN_REVOKED');

    // signIn again through the Apollo links: the header link leaves the revoked token off it.
    const signInHeaders: (string | undefined)[] = [];
    laptop.on('request', (request) => {
      if (request.method() === 'POST' && /SignIn/.test(request.postData() ?? '')) signInHeaders.push(request.headers().authorization);
    });
    const statusesBefore = traffic.statuses.length;
    await signIn(laptop, username, password);
    await expect.poll(() => pairs.length).toBe(2);
    expect(traffic.statuses.slice(statusesBefore)).toEqual([200]);
    expect(signInHeaders).toEqual([undefined]);
    await expect.poll(() => output(laptop).textContent()).toBe('signed in');
    expect(await status(laptop).textContent()).toBe(`signed in as ${username}`);
    await laptop.click('#me');
    await expect.poll(() => output(laptop).textContent()).toBe(`me: ${username}`);

    // refreshSession from the page's origin with the revoked token in Authorization and the first, still valid, refresh token.
    const refreshed = await laptop.evaluate(
      async ({ url, revoked, refreshToken }) => {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${revoked}` },
          body: JSON.stringify({ query: 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }', variables: { r: refreshToken } }),
        });
        return { status: response.status, body: (await response.json()) as { data?: { refreshSession?: { accessToken: string } } } };
      },
      { url: api.url, revoked: first.accessToken, refreshToken: first.refreshToken },
    );
    expect(refreshed.status).toBe(200);
    const renewed = refreshed.body.data?.refreshSession?.accessToken;
    expect(typeof renewed).toBe('string');
    expect((await api.graphql('{ me { username } }', { token: renewed! })).body.data).toEqual({ me: { username } });
    // Any other operation with the revoked token is refused as before.
    const other = await api.graphql('{ me { username } }', { token: first.accessToken });
    expect([other.status, other.body.errors[0].extensions.reason]).toEqual([401, 'TOKEN_REVOKED']);
  });

  it('refreshes an expired access token transparently, and shows "signed out" once another device ended its session', async () => {
    const { username, password } = await shortApi.signUp();
    const laptop = await openDevice(shortApi);
    const traffic = recordTraffic(laptop);
    await signIn(laptop, username, password);
    await expect.poll(() => status(laptop).textContent()).toBe(`signed in as ${username}`);
    const laptopSession = await sessionId(laptop);
    expect(laptopSession).not.toBe('');

    // Past the access token's expiry: `me` gets 401 TOKEN_EXPIRED, the link refreshes and retries once.
    await sleep(SHORT_TTL_SECONDS * 1000 + 500);
    await laptop.click('#me');
    await expect.poll(() => output(laptop).textContent()).toBe(`me: ${username}`);
    expect(await status(laptop).textContent()).toBe(`signed in as ${username}`);
    expect(traffic.operations).toEqual(['SignIn', 'Me', 'Refresh', 'Me']);
    expect(traffic.statuses).toEqual([200, 401, 200, 200]);
    // The same session, on a new pair.
    expect(await sessionId(laptop)).toBe(laptopSession);

    // Another device of the same user signs the laptop's session out (cancelSession with its id).
    const phone = await openDevice(shortApi);
    await signIn(phone, username, password);
    await expect.poll(() => status(phone).textContent()).toBe(`signed in as ${username}`);
    await phone.fill('#other-session', laptopSession);
    await phone.click('#cancel-session');
    await expect.poll(() => output(phone).textContent()).toBe('cancelSession: true');
    expect(await status(phone).textContent()).toBe(`signed in as ${username}`);

    // Once the laptop's token has expired again, its next call refreshes, the refresh is
    // refused (the session is over) and the page signs out.
    await sleep(SHORT_TTL_SECONDS * 1000 + 500);
    await laptop.click('#me');
    await expect.poll(() => status(laptop).textContent()).toBe('signed out');
    expect(await output(laptop).textContent()).toBe('session ended: REFRESH_TOKEN_INVALID');
    expect(traffic.operations.slice(4)).toEqual(['Me', 'Refresh']);
    // 401 TOKEN_EXPIRED on `me`; the refused refresh is a GraphQL error (HTTP 200).
    expect(traffic.statuses.slice(4)).toEqual([401, 200]);
    expect(pageErrors).toEqual([]);
  });

  it('watches its sessions live, and its socket is closed with 4403 and the page signed out when another device signs out everywhere', async () => {
    const { username, password } = await api.signUp();
    const laptop = await openDevice();
    await signIn(laptop, username, password);
    await expect.poll(() => status(laptop).textContent()).toBe(`signed in as ${username}`);
    const laptopSession = await sessionId(laptop);
    await laptop.click('#watch');
    await expect.poll(() => live(laptop).textContent()).toBe('live: open');

    // Another device signs in: the laptop sees its session being created.
    const phone = await openDevice();
    await signIn(phone, username, password);
    await expect.poll(() => status(phone).textContent()).toBe(`signed in as ${username}`);
    const phoneSession = await sessionId(phone);
    await expect.poll(() => events(laptop)).toEqual([`CREATED ${phoneSession}`]);

    // The phone signs out everywhere: the laptop's socket is closed with 4403 at once, its
    // refresh is refused, and the page shows "signed out", without the user doing anything.
    const started = Date.now();
    await phone.click('#cancel-all');
    await expect.poll(() => live(laptop).textContent(), { timeout: 1500, interval: 50 }).toBe('live: closed 4403 Forbidden');
    await expect.poll(() => status(laptop).textContent(), { timeout: 1500, interval: 50 }).toBe('signed out');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await output(phone).textContent()).toBe('cancelled 3 tokens');
    // Its own session's end came over the socket before the close.
    expect(await events(laptop)).toEqual(expect.arrayContaining([`ENDED ${laptopSession} (this device)`]));
    expect(await output(laptop).textContent()).toBe('session ended: REFRESH_TOKEN_INVALID');
    expect(pageErrors).toEqual([]);
  });

  it('keeps ONE socket open over more than three access-token lifetimes, renewing it in-band, with no missed event; cancelSession from another device still closes it within a second', async () => {
    const { username, password } = await liveApi.signUp();
    const laptop = await openDevice(liveApi);
    // This page's errors (a page of an earlier test may still report late ones into pageErrors).
    const laptopErrors: string[] = [];
    laptop.on('pageerror', (error) => laptopErrors.push(error.message));
    const sockets: string[] = [];
    laptop.on('websocket', (socket) => sockets.push(socket.url()));
    await signIn(laptop, username, password);
    await expect.poll(() => status(laptop).textContent()).toBe(`signed in as ${username}`);
    const laptopSession = await sessionId(laptop);
    await laptop.click('#watch');
    await expect.poll(() => live(laptop).textContent()).toBe('live: open');

    // Another device signs in every 1.5 s, for more than three lifetimes: each CREATED must arrive.
    const created: string[] = [];
    const started = Date.now();
    let phoneToken = '';
    while (Date.now() - started < (3 * LIVE_TTL_SECONDS + 2) * 1000) {
      const answer = await liveApi.graphql('mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken session { id } } }', {
        variables: { u: username, p: password },
      });
      created.push(answer.body.data.signIn.session.id);
      phoneToken = answer.body.data.signIn.accessToken;
      await sleep(1500);
    }
    await expect.poll(() => events(laptop)).toEqual(created.map((id) => `CREATED ${id}`));
    expect(sockets).toHaveLength(1);
    expect(await live(laptop).textContent()).toBe('live: open');
    const { body } = await liveMetrics.render();
    const renewed = Number(/graphql_revoke_live_renewals_total\{outcome="renewed"\} (\d+)/.exec(body)?.[1]);
    expect(renewed).toBeGreaterThanOrEqual(3);
    expect(body).toContain('graphql_revoke_live_sockets_closed_total{reason="expired"} 0');

    // The phone ends the laptop's session: the socket, on its renewed token, closes at once.
    const ending = Date.now();
    await liveApi.graphql('mutation($id: ID) { cancelSession(id: $id) }', { variables: { id: laptopSession }, token: phoneToken });
    await expect.poll(() => live(laptop).textContent(), { timeout: 1000, interval: 25 }).toBe('live: closed 4403 Forbidden');
    expect(Date.now() - ending).toBeLessThan(1000);
    await expect.poll(() => status(laptop).textContent()).toBe('signed out');
    expect(await events(laptop)).toEqual([...created.map((id) => `CREATED ${id}`), `ENDED ${laptopSession} (this device)`]);
    expect(sockets).toHaveLength(1);
    expect(laptopErrors).toEqual([]);
  });

  it('asks for the password when an admin action needs a recent one (INSUFFICIENT_USER_AUTHENTICATION), reauthenticates and retries it once', async () => {
    ahead = 0;
    const admin = await freshApi.signUp();
    await createUserAdmin({ users: freshApi.users, revocations: freshApi.revocations }).grantScopes({ kind: 'cli' }, admin.userId, [ADMIN_SCOPE]);
    const victim = await freshApi.signUp();
    const laptop = await openDevice(freshApi);
    const laptopErrors: string[] = [];
    laptop.on('pageerror', (error) => laptopErrors.push(error.message));
    const traffic = recordTraffic(laptop);
    const prompts: string[] = [];
    let answer = admin.password;
    laptop.on('dialog', (dialog) => {
      prompts.push(dialog.message());
      void dialog.accept(answer);
    });
    await signIn(laptop, admin.username, admin.password);
    await expect.poll(() => status(laptop).textContent()).toBe(`signed in as ${admin.username}`);
    await laptop.fill('#admin-user', victim.userId);

    // The password check is now older than ADMIN_FRESH_AUTH_MAX_AGE.
    ahead = FRESH_MAX_AGE + 60;
    await laptop.click('#admin-cancel-user');
    await expect.poll(() => output(laptop).textContent()).toBe('cancelAllUserTokens: 1');
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toContain(`within the last ${FRESH_MAX_AGE} seconds`);
    expect(traffic.operations).toEqual(['SignIn', 'CancelUserTokens', 'Reauthenticate', 'CancelUserTokens']);
    expect(traffic.statuses).toEqual([200, 200, 200, 200]);

    // Older again, and a wrong password: no retry, the refusal reaches the page, still signed in.
    ahead = 3 * FRESH_MAX_AGE;
    answer = 'not the password';
    await laptop.click('#admin-cancel-user');
    await expect.poll(() => output(laptop).textContent()).toBe('cancelAllUserTokens failed: INSUFFICIENT_USER_AUTHENTICATION');
    expect(prompts).toHaveLength(2);
    expect(traffic.operations.slice(4)).toEqual(['CancelUserTokens', 'Reauthenticate']);
    expect(await status(laptop).textContent()).toBe(`signed in as ${admin.username}`);
    expect(laptopErrors).toEqual([]);
    ahead = 0;
  });
});
