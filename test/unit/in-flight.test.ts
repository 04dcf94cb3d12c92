import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createInFlight } from '../../src/server/in-flight.js';

const response = (name: string) => ({ name }) as unknown as ServerResponse;
const names = (inFlight: ReturnType<typeof createInFlight>) => {
  const seen: string[] = [];
  inFlight.forEach((res) => seen.push((res as unknown as { name: string }).name));
  return seen;
};

describe('createInFlight', () => {
  it('lists the responses added and not released, once each', () => {
    const inFlight = createInFlight();
    const releaseA = inFlight.add(response('a'));
    inFlight.add(response('b'));
    expect(names(inFlight)).toEqual(['a', 'b']);
    releaseA();
    expect(names(inFlight)).toEqual(['b']);
  });

  it('keeps no response after its release, through 10,000 requests one after another', () => {
    const inFlight = createInFlight();
    let release = () => {};
    for (let i = 0; i < 10_000; i += 1) {
      release();
      release = inFlight.add(response(`r${i}`));
    }
    expect(names(inFlight)).toEqual(['r9999']);
    release();
    expect(names(inFlight)).toEqual([]);
    // A request after the release is listed alone: nothing of the 10,000 before it is kept.
    const next = inFlight.add(response('next'));
    expect(names(inFlight)).toEqual(['next']);
    next();
  });

  it('a release called twice frees its slot once: the two requests after it stay listed apart', () => {
    const inFlight = createInFlight();
    const release = inFlight.add(response('a'));
    release();
    release();
    inFlight.add(response('b'));
    inFlight.add(response('c'));
    expect(names(inFlight).sort()).toEqual(['b', 'c']);
  });
});
