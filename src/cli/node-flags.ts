/**
 * Node flags the server runs with (`npm start`, the `sierradb` executable's shebang, the Dockerfile, and every
 * harness that starts a server process). Keep those places in step with this list.
 *
 * --v8-pool-size=1: V8's platform threads (parallel scavenges, concurrent marking) default to one per core. The
 * server already runs a main thread, the bucket writers and the read workers; on a 2-core machine four more GC
 * helpers only contend with them: durable EAPPEND at -c 50 -P 16 went from ~92k/s to ~108k/s with one (three
 * runs each, bench/compare.ts workload, 2026-11-23), while --single-threaded-gc was slower (~60k/s).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--v8-pool-size=1'];
