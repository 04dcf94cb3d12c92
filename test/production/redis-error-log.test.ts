/**
 * With Redis away, a reconnect fails about twice a second: the log gets one
 * 'redis connection error' line per 10 s, with the count of the failures it stands for,
 * not a line each second (56 lines in 30 s once).
 */
import { describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/index.js';
import { getFreePort } from '../helpers/free-port.js';
import { waitFor } from '../helpers/wait-for.js';

describe('redis connection errors in the log', () => {
  it('says one line for the failures of the first 10 s', async () => {
    const lines: Array<{ message: string; object: Record<string, unknown> }> = [];
    const port = await getFreePort(); // nothing listens there
    const client = createRedisClient({
      url: `redis://127.0.0.1:${port}`,
      logger: { warn: (object, message) => lines.push({ message, object: object as Record<string, unknown> }), info: () => {} },
    });
    let failures = 0;
    client.on('error', () => (failures += 1));
    try {
      // Several failed reconnects (backing off to one a second): they used to be a line a second.
      await waitFor('eight failed connection attempts (about 3.5 s)', 20_000, async () => (failures >= 8 ? true : undefined), () => `${failures}`, 50);
      const errors = lines.filter((line) => line.message === 'redis connection error');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.object).toMatchObject({ alsoFailedSinceLastLine: 0 });
    } finally {
      client.disconnect();
    }
  });
});
