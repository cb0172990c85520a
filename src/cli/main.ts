#!/usr/bin/env -S node --v8-pool-size=1 --max-semi-space-size=16
/**
 * The `sierradb` executable (`npm start`). It turns on Node's compile cache (`module.enableCompileCache`, in the
 * system's temporary directory) before anything else is loaded, then runs the program (src/cli/sierradb-command.ts).
 * The server is TypeScript run as it is: without the cache every start strips the types of every module again in
 * the main thread and in each worker thread, about a quarter of a second of a start here (an empty store: ~750 ms
 * to the first PONG without, ~500 ms with a warm cache). Stale entries are never used (the cache checks each file's
 * contents); a cache that cannot be written is skipped.
 */
import module from 'node:module';

const cache = module.enableCompileCache?.();
// Worker threads (the writers, the readers) read the variable when they start.
if (cache?.directory !== undefined) process.env.NODE_COMPILE_CACHE ??= cache.directory;
await import('./sierradb-command.ts');
