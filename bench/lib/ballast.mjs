/**
 * Inert heap for bench:ws's instance D, loaded with `node --import` (plain JavaScript: the
 * servers run compiled code, no TypeScript loader). On SIGUSR2 it reads a byte count from the
 * file named by BENCH_BALLAST_FILE and allocates that much V8 heap as small objects held for the
 * rest of the process's life, as many small records as the sockets' own would be; then it
 * writes `done <bytes held> <records>` to the same file. Nothing else ever touches them: D's cost against
 * C tells what the heap alone costs an instance, A's what the sockets cost (heap and all).
 */
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.BENCH_BALLAST_FILE;
/** What the ballast holds: never read, only kept reachable. */
const held = [];

/** One record of small objects (~3 KB): as many objects and pointers as a socket's records. */
function graph(i) {
  const objects = new Array(20);
  for (let j = 0; j < 20; j += 1) objects[j] = { a: i, b: j, c: null, d: [i, j], e: { x: j } };
  return objects;
}

if (file) {
  process.on('SIGUSR2', () => {
    const target = Number(readFileSync(file, 'utf8').trim());
    const start = process.memoryUsage().heapUsed;
    let i = 0;
    // Chunks of 100 records, until the heap has grown by the target (the server is idle meanwhile).
    while (process.memoryUsage().heapUsed - start < target) {
      for (let k = 0; k < 100; k += 1) held.push(graph(i++));
    }
    writeFileSync(file, `done ${process.memoryUsage().heapUsed - start} ${i}\n`);
  });
}
