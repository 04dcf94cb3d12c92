/**
 * The configuration (src/config/): its types, the loader (the only module that reads
 * process.env) and the values derived from it. Kept at this path so that modules importing
 * '../config.js' need no change while other work on them is in flight; issue 23's phase B
 * points them at src/config/ and removes this file.
 */
export type * from './config/config-types.js';
export * from './config/load-config.js';
export * from './config/derived.js';
