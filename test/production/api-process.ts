/**
 * The real API as a separate process (src/server/main.ts), for the production tests:
 * several instances, SIGTERM, Redis outages seen from the outside.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSecretKey } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { getFreePort } from '../helpers/free-port.js';
import { decodePayload } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait-for.js';
import { httpRequest, postGraphQL, TEST_SECRET, type HttpAnswer } from '../helpers/test-server.js';
import { createTokenIssuer } from '../../src/auth/token-issuer.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const START_TIMEOUT_MS = 30_000;

/** How the process is started: `npx tsx src/server/main.ts`, or tsx without npx (as in the Dockerfile). */
export type Launcher = 'npx' | 'tsx';

/** One log line of the API (pino JSON). */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A running API process. */
export interface ApiProcess {
  readonly base: string;
  readonly url: string;
  /**
   * `http://127.0.0.1:<METRICS_PORT>`: metrics have their own listener, on a free port unless
   * the env gives one (an empty METRICS_PORT: none, and this is undefined).
   */
  readonly metricsBase: string | undefined;
  /** The Prometheus text of GET /metrics on the metrics listener. */
  metrics(): Promise<string>;
  readonly pid: number;
  /** Every stdout line so far, raw. */
  readonly output: string[];
  /** The JSON log lines so far. */
  logs(): LogLine[];
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  graphql(query: string, options?: { token?: string; variables?: Record<string, unknown>; signal?: AbortSignal }): Promise<HttpAnswer>;
  get(path: string): Promise<HttpAnswer>;
  /** Signs up a fresh user; returns its token. Throws with the answer if it fails. */
  signUp(username: string, password?: string): Promise<{ token: string; userId: string }>;
  /** Signs in; returns the token. Throws with the answer if it fails. */
  signIn(username: string, password?: string): Promise<string>;
  /** Sends `signal` to the API process itself (tsx relays it to the node child). */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILLs the whole process group. */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Starts `src/server/main.ts` on a free port with `env` (plus NODE_ENV=production, the test
 * secret, HOST=127.0.0.1) and resolves once /healthz answers 200. It never inherits the
 * Redis settings of the test process.
 */
export async function startApiProcess(env: Record<string, string>, launcher: Launcher = 'tsx'): Promise<ApiProcess> {
  const port = await getFreePort();
  const metricsPort = env.METRICS_PORT ?? String(await getFreePort());
  const inherited = { ...process.env };
  for (const name of Object.keys(inherited)) if (name.startsWith('REDIS_') || name === 'LOG_LEVEL') delete inherited[name];
  const [command, args] =
    launcher === 'npx' ? ['npx', ['tsx', 'src/server/main.ts']] : [`${ROOT}node_modules/.bin/tsx`, ['src/server/main.ts']];
  const child = spawn(command, args as string[], {
    cwd: ROOT,
    // A process group of its own: npx and tsx start children, and kill() must reach them all.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inherited,
      NODE_ENV: 'production',
      JWT_SECRET: TEST_SECRET,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      // Tests sign up many users from 127.0.0.1; a test of the limit sets its own.
      SIGNUP_MAX_PER_ADDRESS: '1000000',
      // Successful sign-ins and failed refreshes are limited too (issue 18); test/security/session-bounds.test.ts sets its own.
      SIGNIN_MAX_PER_ADDRESS: '1000000',
      SIGNIN_MAX_PER_USERNAME: '1000000',
      REFRESH_MAX_FAILURES_PER_ADDRESS: '1000000',
      ...env,
      METRICS_PORT: metricsPort,
    },
  });
  running.add(child);
  const output: string[] = [];
  let stderr = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    output.push(...lines);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      // Let the last stdout chunk in.
      setTimeout(() => resolve({ code, signal }), 50);
    });
  });

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`API process exited before it answered (${child.exitCode ?? child.signalCode})\n${output.join('\n')}\n${stderr}`);
    }
    const answer = await httpRequest(`${base}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    if (answer?.status === 200) break;
    if (Date.now() > deadline) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      throw new Error(`API process did not answer /healthz within ${START_TIMEOUT_MS} ms\n${output.join('\n')}\n${stderr}`);
    }
    await sleep(100);
  }

  const api: ApiProcess = {
    base,
    url: `${base}/graphql`,
    metricsBase: metricsPort ? `http://127.0.0.1:${metricsPort}` : undefined,
    async metrics() {
      if (!metricsPort) throw new Error('this API process has no metrics listener (METRICS_PORT was empty)');
      const answer = await httpRequest(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
      if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}`);
      return answer.text;
    },
    pid: child.pid!,
    output,
    logs: () =>
      output.flatMap((line) => {
        try {
          return [JSON.parse(line) as LogLine];
        } catch {
          return [];
        }
      }),
    exited,
    graphql: (query, { token, variables, signal } = {}) =>
      postGraphQL(`${base}/graphql`, query, { token, ...(variables ? { variables } : {}), signal: signal ?? AbortSignal.timeout(10_000) }),
    get: (path) => httpRequest(`${base}${path}`, { signal: AbortSignal.timeout(10_000) }),
    async signUp(username, password = 'correct horse battery') {
      const answer = await api.graphql(
        'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken user { id } } }',
        { variables: { u: username, p: password } },
      );
      const payload = answer.body?.data?.signUp;
      if (!payload) throw new Error(`signUp failed: ${answer.status} ${answer.text}`);
      return { token: payload.accessToken as string, userId: payload.user.id as string };
    },
    async signIn(username, password = 'correct horse battery') {
      const answer = await api.graphql('mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }', {
        variables: { u: username, p: password },
      });
      const token = answer.body?.data?.signIn?.accessToken;
      if (!token) throw new Error(`signIn failed: ${answer.status} ${answer.text}`);
      return token as string;
    },
    signal(signal) {
      child.kill(signal);
    },
    async kill() {
      if (!running.has(child)) return;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await exited;
    },
  };
  return api;
}

/** Issues a valid token signed with the test secret, without any store (e.g. while Redis is down). */
export function offlineToken(userId: string, options: { now?: () => number; ttlSeconds?: number } = {}): string {
  const issuer = createTokenIssuer({
    key: createSecretKey(Buffer.from(TEST_SECRET, 'utf8')),
    algorithm: 'HS256',
    issuer: 'graphql-revoke',
    audience: 'graphql-revoke',
    ttlSeconds: options.ttlSeconds ?? 900,
    ...(options.now ? { now: options.now } : {}),
  });
  return issuer.issue({ id: userId, username: 'offline' }).token;
}

/** Polls `check` (waitFor) until it returns true; returns the ms it took. Throws after `timeoutMs`. */
export async function within(what: string, timeoutMs: number, check: () => Promise<boolean>, intervalMs = 50): Promise<number> {
  const started = Date.now();
  await waitFor(what, timeoutMs, async () => ((await check()) ? true : undefined), () => '', intervalMs);
  return Date.now() - started;
}

export const ME = '{ me { id } }';
export const CANCEL = 'mutation { cancelToken }';

/** Refused as revoked: 401 with reason TOKEN_REVOKED. */
export async function refused(api: ApiProcess, token: string): Promise<boolean> {
  const answer = await api.graphql(ME, { token });
  return answer.status === 401 && answer.body.errors[0].extensions.reason === 'TOKEN_REVOKED';
}

/** Accepted: 200 without errors (`me` may be null when the user record went with the data). */
export async function served(api: ApiProcess, token: string): Promise<boolean> {
  const answer = await api.graphql(ME, { token });
  return answer.status === 200 && answer.body.errors === undefined;
}

/** One answer of {@link loadMe}, with when its request started and ended (performance.now()). */
export interface LoadSample {
  /** Index of the API process in the list given to loadMe. */
  instance: number;
  start: number;
  end: number;
  /** 0 when no answer came (network error or the 5 s timeout). */
  status: number;
  /** Whether the answer carried `me`. */
  data: boolean;
  code?: string;
  reason?: string;
}

/**
 * Runs `loopsPerInstance` loops of `me` with `token` against each API until stopped; every
 * answer is kept with its timing. Bounded: at most 5000 requests per loop, whatever happens.
 */
export function loadMe(apis: readonly ApiProcess[], token: string, loopsPerInstance: number) {
  const samples: LoadSample[] = [];
  let running = true;
  const loops = apis.flatMap((api, instance) =>
    Array.from({ length: loopsPerInstance }, async () => {
      for (let i = 0; running && i < 5000; i += 1) {
        const start = performance.now();
        const answer = await api.graphql(ME, { token, signal: AbortSignal.timeout(5000) }).catch(() => undefined);
        const extensions = answer?.body?.errors?.[0]?.extensions;
        samples.push({
          instance,
          start,
          end: performance.now(),
          status: answer?.status ?? 0,
          data: Boolean(answer?.body?.data?.me),
          code: extensions?.code,
          reason: extensions?.reason,
        });
      }
    }),
  );
  return {
    samples,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** The claims of a token, unverified (tests only: to know its jti). */
export function claimsOf(token: string): { sub: string; jti: string; exp: number } {
  return decodePayload(token) as { sub: string; jti: string; exp: number };
}

/** The value of one sample of a Prometheus exposition, e.g. `graphql_revoke_requests_total{auth_outcome="ok"}`. */
export function metricValue(exposition: string, series: string): number | undefined {
  for (const line of exposition.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
