/**
 * scripts/check-layers.ts: the floor order and the cycle search it fails CI with, on
 * hand-made import graphs, and the repository as it stands (no import up beyond the
 * declared allow-list, no cycle).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { floorOf, importCycles, upwardImports, type ImportEdge } from '../../scripts/layers.js';

const edge = (from: string, to: string): ImportEdge => ({ from, to, line: 1 });

describe('layers', () => {
  it('puts a module on the floor of its longest matching prefix', () => {
    expect(floorOf('src/admin/cli/run.ts')).toBeGreaterThan(floorOf('src/server/main.ts'));
    expect(floorOf('src/admin/user-admin.ts')).toBeLessThan(floorOf('src/server/main.ts'));
    expect(floorOf('src/redis/keys.ts')).toBeLessThan(floorOf('src/revocation/redis-store.ts'));
    expect(floorOf('src/nowhere/x.ts')).toBe(-1);
  });

  it('names an import from a lower floor into a higher one, and only that', () => {
    const up = edge('src/redis/keys.ts', 'src/server/create-server.ts');
    const down = edge('src/server/create-server.ts', 'src/redis/keys.ts');
    const level = edge('src/revocation/redis-store.ts', 'src/sessions/revocation-markers.ts');
    expect(upwardImports([up, down, level])).toEqual([up]);
  });

  it('finds every module of a cycle, and no cycle in a tree', () => {
    expect(importCycles([edge('a', 'b'), edge('b', 'c'), edge('c', 'a'), edge('c', 'd')])).toEqual([['a', 'b', 'c']]);
    expect(importCycles([edge('a', 'b'), edge('a', 'c'), edge('b', 'c')])).toEqual([]);
  });

  it('passes on the repository as it stands (exit 0, one summary line)', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/check-layers.ts'], { encoding: 'utf8' });
    expect(run.stdout).toMatch(/^layers: \d+ modules on \d+ floors, no import runs up \(\d+ allowed for now\), no cycle\n$/);
    expect(run.status).toBe(0);
  });
});
