/**
 * Node flags the server runs with (`npm start`, the `sierradb` executable's shebang, the Dockerfile, and every
 * harness that starts a server process). Keep those places in step with this list.
 *
 * --v8-pool-size=1: V8's platform threads (parallel scavenges, concurrent marking) default to one per core. The
 * server already runs a main thread, the bucket writers and the read workers; on a 2-core machine four more GC
 * helpers only contend with them: durable EAPPEND at -c 50 -P 16 went from ~92k/s to ~108k/s with one (three
 * runs each, bench/compare.ts workload, 2026-11-23), while --single-threaded-gc was slower (~60k/s).
 *
 * --max-semi-space-size=16: on a machine with plenty of memory V8 lets the young generation grow to 32 MiB and
 * more a semi-space; under a sustained append load the scavenges of that larger space took 14-17 ms each instead of
 * ~1 ms (what is in flight survives every one) and throughput over 1.5M appends fell from ~165k/s to ~110-130k/s.
 * Capped at 16 MiB it stays at ~160-167k/s (8 MiB: the same; 4 MiB: 134k/s).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--v8-pool-size=1', '--max-semi-space-size=16'];
