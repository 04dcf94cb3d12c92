/** What the bench ran on, and the bits of process accounting it reads. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  redis: string;
  loadAverage: number[];
}

function firstLine(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 5000 });
  return (result.stdout ?? '').trim().split('\n')[0] ?? '';
}

export function describeMachine(): Machine {
  const redis = /v=(\S+)/.exec(firstLine('redis-server', ['--version']))?.[1] ?? 'unknown';
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    redis,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** The commit the bench ran on, with "+dirty" when the tree had uncommitted changes. */
export function gitRevision(cwd: string): string {
  const head = firstLine('git', ['-C', cwd, 'rev-parse', '--short', 'HEAD']) || 'unknown';
  const dirty = spawnSync('git', ['-C', cwd, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout?.trim();
  return dirty ? `${head}+dirty` : head;
}

const TICKS = Number(firstLine('getconf', ['CLK_TCK'])) || 100;

/** CPU time (user + system) a process has used, in µs (Linux /proc; NaN elsewhere). */
export function processCpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1e6;
  } catch {
    return NaN;
  }
}

/** Pins a running process to `cpus` (taskset); false if taskset is missing. */
export function pinProcess(pid: number, cpus: string): boolean {
  const result = spawnSync('taskset', ['-cp', cpus, String(pid)], { stdio: 'ignore' });
  return result.status === 0;
}

/** Whole-machine CPU time from /proc/stat, in µs: busy (all but idle and iowait) and total. */
export function systemCpuMicros(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy: (busy / TICKS) * 1e6, total: ((busy + idle + iowait) / TICKS) * 1e6 };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/**
 * Waits until other processes leave the machine nearly idle (their busy share of all CPUs,
 * i.e. the machine's minus `ownPids`', below `threshold` over a quarter second) or
 * `maxWaitMs` has passed. Returns the ms waited.
 */
export async function waitForQuiet(threshold: number, maxWaitMs: number, ownPids: readonly number[] = []): Promise<number> {
  const started = Date.now();
  const own = () => ownPids.reduce((sum, pid) => sum + (processCpuMicros(pid) || 0), 0);
  let last = { ...systemCpuMicros(), own: own() };
  while (Date.now() - started < maxWaitMs) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = { ...systemCpuMicros(), own: own() };
    const share = (now.busy - last.busy - (now.own - last.own)) / Math.max(1, now.total - last.total);
    if (!(share >= threshold)) break;
    last = now;
  }
  return Date.now() - started;
}
