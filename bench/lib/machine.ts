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
