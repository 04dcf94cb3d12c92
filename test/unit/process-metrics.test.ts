import { closeSync, openSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';

/** The value of an unlabelled sample in Prometheus text. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('process metrics (processMetrics: true)', () => {
  it("export prom-client's defaults without those that walk every open handle on a scrape", async () => {
    const { registry } = createMetrics({ processMetrics: true });
    const text = await registry.metrics();
    for (const kept of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'process_start_time_seconds']) {
      expect(text, kept).toContain(`graphql_revoke_${kept}`);
    }
    // Each of these costs the scrape one step per socket, timer or file, on the event loop.
    for (const dropped of ['nodejs_active_handles', 'nodejs_active_resources']) {
      expect(text, dropped).not.toContain(`graphql_revoke_${dropped}`);
    }
  });

  it.runIf(process.platform === 'linux')('still count open file descriptors', async () => {
    const { registry } = createMetrics({ processMetrics: true });
    const before = sample(await registry.metrics(), 'graphql_revoke_process_open_fds');
    expect(before).toBeGreaterThan(2);
    // What the descriptor table holds now, counted as prom-client's own gauge counts it.
    expect(Math.abs((before as number) - (readdirSync('/proc/self/fd').length - 1))).toBeLessThanOrEqual(2);

    const files = Array.from({ length: 40 }, () => openSync('/dev/null', 'r'));
    const servers: Server[] = await Promise.all(
      Array.from({ length: 10 }, () => new Promise<Server>((resolve) => { const server = createServer().listen(0, '127.0.0.1', () => resolve(server)); })),
    );
    try {
      const opened = sample(await registry.metrics(), 'graphql_revoke_process_open_fds') as number;
      expect(opened - (before as number)).toBeGreaterThanOrEqual(50);
      expect(opened - (before as number)).toBeLessThanOrEqual(52);
    } finally {
      for (const fd of files) closeSync(fd);
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
    const closed = sample(await registry.metrics(), 'graphql_revoke_process_open_fds') as number;
    expect(Math.abs(closed - (before as number))).toBeLessThanOrEqual(2);
  });
});
