import { runLoad } from './load/load-generator.ts';
import { measureCatchUp } from './load/catch-up.ts';
const port = 9191; const n = Number(process.argv[2] ?? 300000);
if (process.argv[3] !== 'nofill') {
  const fill = await runLoad({ command: 'eappend', port, clients: 50, pipeline: 16, count: n, durationSeconds: undefined, streams: 1000, payloadBytes: 200, onProgress: null } as any);
  console.log('filled', fill.ops, fill.errors, Math.round(fill.eventsPerSecond));
}
const r = await measureCatchUp({ host: '127.0.0.1', port, expectedEvents: n, window: 10000, timeoutSeconds: 120 });
console.log(JSON.stringify(r));
