/**
 * The Redis command-line tools against the real server: redis-cli runs SierraDB's README walkthrough verbatim
 * (commands read from stdin, as typed at the prompt), with and without `-3`; redis-benchmark pipelines appends and
 * reads the CONFIG it probes for. Needs Debian's redis-tools (`.ci/run` installs it).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, startServer, type ServerProcess } from './helpers/server-process.ts';

const servers: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  removeTempDirs();
});

async function server(): Promise<ServerProcess> {
  const s = await startServer();
  servers.push(s);
  return s;
}

function run(tool: string, args: string[], input?: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(tool, args, { input, encoding: 'utf8', timeout: 60_000 });
  if (r.error !== undefined) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** SierraDB's README "Try it in 30 seconds", as typed at the redis-cli prompt. */
const WALKTHROUGH = `EAPPEND user-123 UserRegistered EXPECTED_VERSION empty PAYLOAD '{"email":"alice@example.com","name":"Alice"}'
EAPPEND user-123 EmailVerified EXPECTED_VERSION 0 PAYLOAD '{"timestamp":"2024-10-18T10:30:00Z"}'
EAPPEND user-123 ProfileUpdated EXPECTED_VERSION 1 PAYLOAD '{"bio":"Software engineer"}'
ESCAN user-123 - +
ESVER user-123
`;

/** The older README form, without EXPECTED_VERSION (permissive versioning, shared/README difference 1). */
const WALKTHROUGH_PERMISSIVE = `EAPPEND user-123 UserRegistered PAYLOAD '{"name":"john"}'
EAPPEND user-123 EmailChanged PAYLOAD '{"email":"john@example.com"}'
EAPPEND user-123 NameChanged PAYLOAD '{"name":"John Smith"}'
ESCAN user-123 - +
ESVER user-123
`;

describe('redis-cli runs the SierraDB README walkthrough', () => {
  for (const [name, script, events] of [
    ['README (EXPECTED_VERSION)', WALKTHROUGH, ['UserRegistered', 'EmailVerified', 'ProfileUpdated']],
    ['older README (no EXPECTED_VERSION)', WALKTHROUGH_PERMISSIVE, ['UserRegistered', 'EmailChanged', 'NameChanged']],
  ] as const) {
    for (const resp3 of [false, true]) {
      it(`${name}${resp3 ? ' with -3' : ''}`, async () => {
        const s = await server();
        // --no-raw: the formatting a terminal gets, although stdout is a pipe here.
        const r = run('redis-cli', ['-p', String(s.port), '--no-raw', ...(resp3 ? ['-3'] : [])], script);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const out = r.stdout;
        expect(out).not.toMatch(/\(error\)/);
        // Three acknowledgements with versions 0, 1, 2 and partition sequences 0, 1, 2.
        const acks = [...out.matchAll(/^\d# stream_version => \(integer\) (\d+)$/gm)].map((m) => Number(m[1]));
        expect(acks).toEqual([0, 1, 2]);
        // ESCAN: has_more false and the three events in order, with their payloads.
        expect(out).toContain('1# has_more => (false)');
        const scanned = [...out.matchAll(/ 9# event_name => "(\w+)"/g)].map((m) => m[1]);
        expect(scanned).toEqual(events);
        const scannedVersions = [...out.matchAll(/ 6# stream_version => \(integer\) (\d+)/g)].map((m) => Number(m[1]));
        expect(scannedVersions).toEqual([0, 1, 2]);
        expect(out).toContain('11# payload => "{\\"');
        // ESVER: 2.
        expect(out.trimEnd().endsWith('(integer) 2')).toBe(true);
      });
    }
  }

  it('in raw mode (the default when piped) too', async () => {
    const s = await server();
    const r = run('redis-cli', ['-p', String(s.port)], WALKTHROUGH_PERMISSIVE);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^stream_version 0$/m);
    expect(r.stdout).toMatch(/^stream_version 2$/m);
    expect(r.stdout).toMatch(/^payload \{"name":"John Smith"\}$/m);
    expect(r.stdout.trimEnd().endsWith('\n2')).toBe(true);
  });

  it('errors are shown and the session goes on', async () => {
    const s = await server();
    const r = run('redis-cli', ['-p', String(s.port), '--no-raw'], 'FOO bar\nEAPPEND x E EXPECTED_VERSION 3\nPING\n');
    expect(r.stdout).toBe(
      "(error) INVALIDARG unknown command 'FOO'\n" +
        '(error) WRONGVER current stream version is empty but expected 3 for partition key ' +
        r.stdout.match(/partition key ([0-9a-f-]{36})/)![1] +
        ' and stream id x\nPONG\n',
    );
  });
});

describe('redis-benchmark', () => {
  it('pipelines 20000 EAPPENDs from 20 clients without an error', async () => {
    const s = await server();
    const r = run('redis-benchmark', ['-p', String(s.port), '-n', '20000', '-c', '20', '-P', '16', 'EAPPEND', 's:__rand_int__', 'E', 'PAYLOAD', 'x']);
    const out = r.stdout + r.stderr;
    expect(r.status).toBe(0);
    expect(out).not.toMatch(/error/i);
    expect(out).not.toMatch(/Could not fetch server CONFIG/);
    expect(out).toContain('host configuration "appendonly": no');
    expect(out).toContain('20000 requests completed');
    expect(out).toMatch(/throughput summary: [\d.]+ requests per second/);
    // Every acknowledged append is there, gapless: one stream (no -r), versions 0..19999.
    const ver = run('redis-cli', ['-p', String(s.port), 'ESVER', 's:__rand_int__']);
    expect(ver.stdout.trim()).toBe('19999');
  });
});
