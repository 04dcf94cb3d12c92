/**
 * The configuration: its types (config-types.ts), the loader, the only module that reads
 * process.env (load-config.ts), and the values derived from it, written once (derived.ts).
 */
export type * from './config-types.js';
export * from './load-config.js';
export * from './derived.js';
