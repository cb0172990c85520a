/**
 * `npm run load -- [options]`: drive a RESP server or PostgreSQL with the load generator. Progress lines go to
 * stderr once a second; the JSON summary goes to stdout at the end (so `npm run -s load -- ... > summary.json`).
 *
 *   npm run load -- --port 9090 --clients 50 --pipeline 16 --duration 10
 *   npm run load -- --port 6379 --command xadd --count 100000
 *   npm run load -- --target postgres --port 5432 --command append --expected-versions
 *
 * Exit status: 0 when every request was answered without error, 1 otherwise (the summary says which).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { keyDistributions } from './key-distribution.ts';
import { loadCommands, loadDefaults, loadTargets, pipelineModes, runLoad, type LoadCommand, type LoadTarget } from './load-generator.ts';

const argv = await yargs(hideBin(process.argv))
  .scriptName('npm run load --')
  .usage('$0 [options]\n\nDrives a RESP server (ours, redis-server) or PostgreSQL; progress on stderr, JSON summary on stdout.')
  .options({
    target: { choices: loadTargets, default: loadDefaults.target, describe: 'resp: raw RESP over TCP; postgres: the pg driver' },
    host: { type: 'string', default: loadDefaults.host },
    port: { type: 'number', describe: 'default 9090 (resp) or 5432 (postgres)' },
    user: { type: 'string', default: loadDefaults.user, describe: 'PostgreSQL user' },
    database: { type: 'string', default: loadDefaults.database, describe: 'PostgreSQL database' },
    command: { choices: loadCommands, describe: 'default eappend (resp) or append (postgres)' },
    clients: { type: 'number', default: loadDefaults.clients, describe: 'connections' },
    pipeline: { type: 'number', default: loadDefaults.pipeline, describe: 'requests in flight per connection' },
    'pipeline-mode': { choices: pipelineModes, default: loadDefaults.pipelineMode, describe: 'batch: as redis-benchmark -P; window: top up after each read' },
    'payload-bytes': { type: 'number', default: loadDefaults.payloadBytes },
    streams: { type: 'number', default: loadDefaults.streams, describe: 'distinct streams (keys) appended to' },
    'stream-prefix': { type: 'string', default: loadDefaults.streamPrefix },
    'key-distribution': { choices: keyDistributions, default: loadDefaults.keyDistribution },
    'zipf-exponent': { type: 'number', default: loadDefaults.zipfExponent },
    duration: { type: 'number', describe: `seconds to issue requests (default ${loadDefaults.durationSeconds} unless --count)` },
    count: { type: 'number', describe: 'requests to issue in all' },
    'expected-versions': { type: 'boolean', default: false, describe: 'send each stream’s expected version (streams owned per client)' },
    'event-name': { type: 'string', default: loadDefaults.eventName },
    'scan-stream': { type: 'string', default: loadDefaults.scanStream, describe: 'the stream escan/xrange/scan page through' },
    'page-size': { type: 'number', default: loadDefaults.pageSize },
    'scan-length': { type: 'number', describe: 'events in the scanned stream: start over after this many' },
    hello: { choices: [2, 3] as const, describe: 'send HELLO <n> first on each RESP connection' },
    seed: { type: 'number', default: loadDefaults.seed },
    quiet: { type: 'boolean', default: false, describe: 'no progress lines' },
  })
  .strict()
  .help()
  .parse();

const target = argv.target as LoadTarget;
const command = (argv.command ?? (target === 'postgres' ? 'append' : 'eappend')) as LoadCommand;
try {
  const summary = await runLoad({
    target,
    command,
    host: argv.host,
    port: argv.port ?? (target === 'postgres' ? 5432 : 9090),
    user: argv.user,
    database: argv.database,
    clients: argv.clients,
    pipeline: argv.pipeline,
    pipelineMode: argv['pipeline-mode'],
    payloadBytes: argv['payload-bytes'],
    streams: argv.streams,
    streamPrefix: argv['stream-prefix'],
    keyDistribution: argv['key-distribution'],
    zipfExponent: argv['zipf-exponent'],
    durationSeconds: argv.duration ?? (argv.count === undefined ? loadDefaults.durationSeconds : undefined),
    count: argv.count,
    expectedVersions: argv['expected-versions'],
    eventName: argv['event-name'],
    scanStream: argv['scan-stream'],
    pageSize: argv['page-size'],
    scanLength: argv['scan-length'],
    hello: argv.hello,
    seed: argv.seed,
    onProgress: argv.quiet ? null : loadDefaults.onProgress,
  });
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  process.exitCode = summary.errors === 0 && summary.unanswered === 0 ? 0 : 1;
} catch (err) {
  process.stderr.write(`load: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
