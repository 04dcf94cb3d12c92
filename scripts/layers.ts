/**
 * The floors of src/, lowest first, and the module graph they are checked against. A module
 * may import from its own floor or any floor below it, never from one above: a reader then
 * learns the code bottom-up without ever being sent upstairs, and a change to a high floor
 * (the server, the CLI) cannot break a low one (Redis plumbing, config). Used by
 * scripts/check-layers.ts (CI) and scripts/code-metrics.ts (the before/after figures of issue 23).
 *
 * A path belongs to the first floor with a prefix that matches it (`src/admin/cli/` before
 * `src/admin/`). Where a new area goes and what it may import: docs/development.md.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import ts from 'typescript';

/** One floor: a name and the path prefixes (from the repository root) that live on it. */
export interface Floor {
  readonly name: string;
  readonly paths: readonly string[];
}

/** Lowest first. */
export const FLOORS: readonly Floor[] = [
  // Error codes, the logger, the configuration: everything may use them.
  // The metric label lists (src/metric-labels/) too: constants, so an area names its outcomes below it.
  { name: 'base', paths: ['src/errors.ts', 'src/logger.ts', 'src/config/', 'src/metric-labels/'] },
  // Redis plumbing every area shares: client, command wrapper and WAIT, keys, cluster slots.
  { name: 'redis', paths: ['src/redis/'] },
  // The domain: tokens, users, revocations, sessions, and the stores that keep them.
  { name: 'domain', paths: ['src/auth/', 'src/users/', 'src/revocation/', 'src/sessions/'] },
  // Eviction policy, clock skew, data loss: watch Redis and guard the revocation store as
  // served (they take its interface and the token clock, so they sit above the domain).
  { name: 'safeguards', paths: ['src/safeguards/'] },
  // One request: context, limits, the pipeline every transport calls, the directives, the metrics;
  // the generated SDL and resolver types (which name the context type).
  { name: 'pipeline', paths: ['src/context/', 'src/graphql-limits/', 'src/pipeline/', 'src/directives/', 'src/metrics.ts', 'src/__generated__/', 'src/schema.ts'] },
  // The areas a server composes: each folder's entry function (`accountsArea`, …, the Area
  // interface in src/areas/), its resolvers and endpoints. An area's entry and resolver files sit
  // in the folder of what they serve (revocation, sessions) but on this floor.
  {
    name: 'areas',
    paths: [
      'src/areas/',
      'src/accounts/',
      'src/admin/',
      'src/health/',
      'src/oauth/',
      'src/revocation/revocation-resolvers.ts',
      'src/revocation/revocation-area.ts',
      'src/sessions/session-resolvers.ts',
      'src/sessions/sessions-area.ts',
    ],
  },
  // Transports and the composition root.
  { name: 'server', paths: ['src/live/', 'src/server/'] },
  // The operator's command line: an entry point like main.ts, over the server's own store set-up.
  { name: 'cli', paths: ['src/admin/cli/'] },
  // The public exports.
  { name: 'index', paths: ['src/index.ts'] },
];

/** The floor index of a path relative to the repository root, or -1 when no floor claims it. */
export function floorOf(path: string): number {
  let best = -1;
  let bestLength = -1;
  FLOORS.forEach((floor, index) => {
    for (const prefix of floor.paths) {
      // The longest matching prefix wins: src/admin/cli/ over src/admin/.
      if (path.startsWith(prefix) && prefix.length > bestLength) {
        best = index;
        bestLength = prefix.length;
      }
    }
  });
  return best;
}

/** One relative import of one module: where it is written and the module it names. */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
  readonly line: number;
}

/** Every .ts file below `dir` (paths relative to `root`), generated code included. */
export function sourceFiles(root: string, dir = 'src'): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(join(root, at))) {
      const path = join(at, name);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.test.ts')) out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

/** Parses a file once (the metrics walk its functions, the checks its imports). */
export function parse(root: string, path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(join(root, path), 'utf8'), ts.ScriptTarget.Latest, true);
}

/** The relative imports and re-exports of `file`, type-only ones included (a type is a dependency too). */
export function importsOf(root: string, file: ts.SourceFile): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const from = file.fileName;
  const add = (specifier: ts.Expression | undefined, node: ts.Node) => {
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) return;
    const target = relative(root, resolve(root, dirname(from), specifier.text)).replace(/\.js$/, '.ts');
    edges.push({ from, to: target, line: file.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier, node);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], node);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return edges;
}

/** The imports that run from a lower floor up into a higher one. */
export function upwardImports(edges: readonly ImportEdge[]): ImportEdge[] {
  return edges.filter((edge) => floorOf(edge.from) >= 0 && floorOf(edge.to) > floorOf(edge.from));
}

/**
 * The import cycles between modules: each strongly connected component of more than one
 * module (Tarjan), as its sorted member list.
 */
export function importCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const connect = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) {
        connect(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) connect(node);
  return cycles;
}
