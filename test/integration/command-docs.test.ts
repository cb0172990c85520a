/**
 * COMMAND, COMMAND DOCS / COUNT / INFO / LIST come from the command table, and so does the README's command
 * reference: this fails when a command is added without running `npm run docs:commands`.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCommands } from '../../src/commands/command-table.ts';
import { END_MARKER, README, renderCommandReference, START_MARKER } from '../../scripts/generate-command-docs.ts';
import { RawClient } from './helpers/raw-client.ts';
import { removeTempDirs, startServer, type ServerProcess } from './helpers/server-process.ts';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

const names = allCommands().map((c) => c.name.toLowerCase());

describe('COMMAND introspection', () => {
  it('COMMAND DOCS answers for every command in the table, with arguments and subcommands', async () => {
    const client = createClient({ RESP: 3, socket: { host: '127.0.0.1', port: server.port, reconnectStrategy: false } });
    client.on('error', () => {});
    await client.connect();
    try {
      const docs = (await client.sendCommand(['COMMAND', 'DOCS'])) as Record<string, Record<string, unknown>>;
      expect(Object.keys(docs).sort()).toEqual([...names].sort());
      for (const c of allCommands()) {
        const d = docs[c.name.toLowerCase()];
        expect(d.summary).toBe(c.summary);
        expect(d.group).toBe(c.group);
        expect(d.since).toBe(c.since);
        if (c.arguments !== undefined) expect((d.arguments as unknown[]).length).toBe(c.arguments.length);
        if (c.subcommands !== undefined) {
          expect(Object.keys(d.subcommands as object).sort()).toEqual(c.subcommands.map((s) => s.name.toLowerCase()).sort());
        }
      }
      const eappend = docs.eappend.arguments as Record<string, unknown>[];
      expect(eappend[0]).toEqual({ name: 'stream_id', type: 'key' });
      expect(eappend[2]).toEqual({ name: 'event_id', type: 'string', token: 'EVENT_ID', flags: ['optional'] });
      expect(await client.sendCommand(['COMMAND', 'COUNT'])).toBe(allCommands().length);
      const list = (await client.sendCommand(['COMMAND', 'LIST'])) as string[];
      expect(list).toEqual(names);
    } finally {
      await client.close();
    }
  });

  it('COMMAND lists info entries in the shape redis-cli 7.0 reads (name, arity, flags, first key)', async () => {
    const c = await RawClient.connect(server.port);
    c.send('COMMAND');
    const [all] = await c.readReplies(1);
    const entries = all as unknown[][];
    expect(entries.length).toBe(allCommands().length);
    for (const [i, cmd] of allCommands().entries()) {
      const e = entries[i];
      expect(e.length).toBe(10);
      expect([String(e[0]), e[1], e[3], e[4], e[5]]).toEqual([cmd.name.toLowerCase(), cmd.arity, 0, 0, 0]);
    }
    c.close();
  });

  it('redis-cli shows COMMAND DOCS', () => {
    const r = spawnSync('redis-cli', ['-p', String(server.port), '--no-raw', 'COMMAND', 'DOCS', 'escan'], { encoding: 'utf8' });
    expect(r.stdout).toContain('"escan"');
    expect(r.stdout).toContain("Returns a page of a stream's events in a version range.");
    expect(r.stdout).toContain('"PARTITION_KEY"');
  });
});

describe('README command reference', () => {
  it('matches the command table (run `npm run docs:commands` after changing a command)', () => {
    const readme = readFileSync(README, 'utf8');
    const start = readme.indexOf(START_MARKER);
    const end = readme.indexOf(END_MARKER);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    const section = readme.slice(start + START_MARKER.length, end).trim();
    expect(section).toBe(renderCommandReference().trim());
    for (const c of allCommands()) expect(section).toContain(`#### ${c.name}\n`);
  });
});
