/**
 * The servers under load, each a child process of its own (so the load generator, in the
 * bench process, doesn't share their event loop): the project as users run it
 * (`node --import tsx src/server/main.ts`, configured by env) and the plain Apollo baseline
 * (bench/plain-server.ts).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, track } from './redis.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A server running in a child process. */
export interface ChildServer {
  readonly name: string;
  /** The GraphQL endpoint. */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Where a child runs: `taskset -c <cpus>` when set. */
export interface Placement {
  cpus?: string | undefined;
  /** Another checkout to run the server from (to compare two versions in one run). Default ROOT. */
  root?: string | undefined;
}

function launch(name: string, args: string[], env: Record<string, string>, placement: Placement) {
  // Only what the server needs: a developer's own REDIS_URL or NODE_ENV must not leak in.
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env };
  const [command, argv] = placement.cpus
    ? ['taskset', ['-c', placement.cpus, process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(command as string, argv as string[], { cwd: placement.root ?? ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      // The bench needs no graceful drain: a server still up 3 s after SIGTERM is killed (and said so).
      const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
      if (!done) {
        process.stdout.write(`[bench] ${name} (pid ${child.pid}) still running 3 s after SIGTERM: SIGKILL\n`);
        child.kill('SIGKILL');
        await exited;
      }
    },
    fail(reason: string): never {
      child.kill('SIGKILL');
      throw new Error(`${name}: ${reason}\n--- its output ---\n${output.trim().split('\n').slice(-20).join('\n')}`);
    },
  };
}

/** Starts the project's real entry point with `env` and waits for /healthz. */
export async function startProjectServer(name: string, env: Record<string, string>, placement: Placement = {}): Promise<ChildServer> {
  const port = await freePort();
  const handle = launch(name, ['--import', 'tsx', 'src/server/main.ts'], { ...env, PORT: String(port), HOST: '127.0.0.1' }, placement);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (handle.child.exitCode !== null) handle.fail(`exited with code ${handle.child.exitCode} before it was ready`);
    if (Date.now() > deadline) handle.fail('not ready within 30 s');
    try {
      const response = await fetch(`${base}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return { name, url: `${base}/graphql`, pid: handle.child.pid ?? -1, stop: handle.stop };
}

/** Starts bench/plain-server.ts and waits for the URL it prints. */
export async function startPlainServer(name: string, placement: Placement = {}): Promise<ChildServer> {
  const handle = launch(name, ['--import', 'tsx', 'bench/plain-server.ts'], { PORT: '0' }, placement);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const line = /\{"url":"([^"]+)"\}/.exec(handle.output());
    if (line) return { name, url: line[1] as string, pid: handle.child.pid ?? -1, stop: handle.stop };
    if (handle.child.exitCode !== null) handle.fail(`exited with code ${handle.child.exitCode} before it was ready`);
    if (Date.now() > deadline) handle.fail('not ready within 30 s');
    await sleep(50);
  }
}
