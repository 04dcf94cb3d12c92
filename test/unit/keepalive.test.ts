import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KEEPALIVE_SLICES, startKeepAlive, type KeptAliveSocket } from '../../src/live/ws-adapter.js';

interface FakeSocket extends KeptAliveSocket {
  pings: number[];
  terminated: boolean;
}

/** A socket of the keep-alive's view: `answers` says whether it pongs (at once) to a ping. */
function fakeSocket(sockets: Set<FakeSocket>, answers: boolean): FakeSocket {
  const socket: FakeSocket = {
    alive: true,
    pings: [],
    terminated: false,
    ws: {
      OPEN: 1,
      readyState: 1,
      ping() {
        socket.pings.push(Date.now());
        if (answers) socket.alive = true;
      },
      terminate() {
        socket.terminated = true;
        (socket.ws as { readyState: number }).readyState = 3;
        sockets.delete(socket);
      },
    },
  };
  sockets.add(socket);
  return socket;
}

describe('keep-alive pings (startKeepAlive)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('pings every socket once an interval, a slice of them a tick, not all in one callback', () => {
    const sockets = new Set<FakeSocket>();
    const all = Array.from({ length: 240 }, () => fakeSocket(sockets, true));
    const timer = startKeepAlive(sockets, 12_000);
    const tick = 12_000 / KEEPALIVE_SLICES;
    let most = 0;
    for (let t = 0; t < KEEPALIVE_SLICES * 3; t += 1) {
      const before = all.reduce((n, s) => n + s.pings.length, 0);
      vi.advanceTimersByTime(tick);
      most = Math.max(most, all.reduce((n, s) => n + s.pings.length, 0) - before);
    }
    clearInterval(timer);
    // 240 sockets in 24 slices: 10 a tick, never the whole set at once.
    expect(most).toBe(240 / KEEPALIVE_SLICES);
    for (const socket of all) {
      expect(socket.terminated).toBe(false);
      // Three intervals: three pings (a pass may end one tick late, never skip a socket).
      expect(socket.pings.length).toBeGreaterThanOrEqual(2);
      expect(socket.pings.length).toBeLessThanOrEqual(3);
      for (let i = 1; i < socket.pings.length; i += 1) {
        const gap = (socket.pings[i] as number) - (socket.pings[i - 1] as number);
        expect(gap).toBeGreaterThanOrEqual(12_000);
        expect(gap).toBeLessThanOrEqual(12_000 + 2 * tick);
      }
    }
  });

  it('terminates a socket that did not answer its previous ping, and only such a socket', () => {
    const sockets = new Set<FakeSocket>();
    const answering = Array.from({ length: 30 }, () => fakeSocket(sockets, true));
    const silent = Array.from({ length: 30 }, () => fakeSocket(sockets, false));
    const timer = startKeepAlive(sockets, 1200);
    // First pass: everyone pinged; second pass: the silent ones found without their pong.
    vi.advanceTimersByTime(1200 + 2 * (1200 / KEEPALIVE_SLICES));
    expect(silent.every((s) => s.pings.length === 1)).toBe(true);
    vi.advanceTimersByTime(1200 + 2 * (1200 / KEEPALIVE_SLICES));
    clearInterval(timer);
    expect(silent.every((s) => s.terminated)).toBe(true);
    expect(answering.some((s) => s.terminated)).toBe(false);
    expect(sockets.size).toBe(30);
  });

  it('reaches a socket opened during a pass, and skips one closed meanwhile', () => {
    const sockets = new Set<FakeSocket>();
    const first = Array.from({ length: 48 }, () => fakeSocket(sockets, true));
    const timer = startKeepAlive(sockets, 2400);
    vi.advanceTimersByTime(2400 / 2);
    const late = fakeSocket(sockets, true);
    const closed = first[47] as FakeSocket;
    (closed.ws as { readyState: number }).readyState = 3;
    sockets.delete(closed);
    vi.advanceTimersByTime(2400 + 2 * (2400 / KEEPALIVE_SLICES));
    clearInterval(timer);
    expect(late.pings.length).toBeGreaterThanOrEqual(1);
    expect(closed.pings.length).toBe(0);
    expect(first.slice(0, 47).every((s) => s.pings.length >= 1)).toBe(true);
  });

  it('is off at 0', () => {
    expect(startKeepAlive(new Set(), 0)).toBeUndefined();
  });
});
