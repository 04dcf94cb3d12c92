/**
 * Fails (exit 1, one line per offence) when a module of src/ imports from a floor above its
 * own (scripts/layers.ts declares the order) or takes part in an import cycle. Run by
 * `npm test` (its `pretest`) and so by CI.
 *
 *   npx tsx scripts/check-layers.ts
 */
import { fileURLToPath } from 'node:url';
import { FLOORS, floorOf, importCycles, importsOf, parse, sourceFiles, upwardImports } from './layers.js';

/**
 * Imports that still run up, each with why. `from -> to`, exactly. An entry that no longer
 * matches an import fails the check too, so the list only ever shrinks. Empty since issue 23:
 * keep it so; a new upward import means a module sits on the wrong floor.
 */
export const ALLOWED_UPWARD: readonly string[] = [];

const root = fileURLToPath(new URL('..', import.meta.url));
const files = sourceFiles(root);
const edges = files.flatMap((path) => importsOf(root, parse(root, path)));
const problems: string[] = [];

for (const path of files) {
  if (floorOf(path) < 0) problems.push(`${path}: no floor declared for this module (scripts/layers.ts)`);
}
const allowed = new Set(ALLOWED_UPWARD);
const seen = new Set<string>();
for (const edge of upwardImports(edges)) {
  const key = `${edge.from} -> ${edge.to}`;
  seen.add(key);
  if (allowed.has(key)) continue;
  problems.push(
    `${edge.from}:${edge.line}: imports ${edge.to} (floor ${FLOORS[floorOf(edge.to)]!.name}) from floor ${FLOORS[floorOf(edge.from)]!.name}, which is below it`,
  );
}
for (const entry of allowed) if (!seen.has(entry)) problems.push(`scripts/check-layers.ts: allow-list entry no longer needed: ${entry}`);
for (const cycle of importCycles(edges)) problems.push(`import cycle: ${cycle.join(' <-> ')}`);

for (const line of problems) console.log(line);
if (problems.length > 0) process.exit(1);
console.log(`layers: ${files.length} modules on ${FLOORS.length} floors, no import runs up (${allowed.size} allowed for now), no cycle`);
