/**
 * The `sierradb` executable: defaults (`npm start` with no arguments serves the default data directory on port
 * 9090), the start-up log line, configuration errors, --help, and a port already in use.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import net from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RawClient } from './helpers/raw-client.ts';
import { MAIN, REPO_ROOT, removeTempDirs, startServer, tempDir } from './helpers/server-process.ts';

afterAll(() => removeTempDirs());

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '0.0.0.0' }, () => s.close(() => resolve(true)));
  });
}

/** The environment without any SIERRA_* or XDG variable, HOME pointing at `home`. */
function cleanEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIERRA_') && !k.startsWith('XDG_')) env[k] = v;
  env.HOME = home;
  return env;
}

describe('sierradb', () => {
  it('with no arguments serves the default data directory on 0.0.0.0:9090', { timeout: 30_000 }, async (ctx) => {
    if (!(await portFree(9090))) ctx.skip();
    const home = tempDir('sdb-home-');
    const proc = spawn(process.execPath, [MAIN], { cwd: home, env: cleanEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d));
    proc.stderr.on('data', (d: Buffer) => (out += d));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!out.includes('"msg":"listening"')) {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`no listening line:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const line = JSON.parse(out.split('\n').find((l) => l.includes('"msg":"listening"'))!) as { address: string; config: { dir: string } };
      expect(line.address).toBe('0.0.0.0:9090');
      expect(line.config.dir).toBe(path.join(home, '.local', 'share', 'sierradb', 'db'));
      const c = await RawClient.connect(9090);
      c.send('EAPPEND', 'default-dir', 'E');
      const [ack] = await c.readReplies(1);
      expect((ack as Map<string, unknown>).get('stream_version')).toBe(0);
      c.close();
      expect(fs.existsSync(path.join(home, '.local', 'share', 'sierradb', 'db', 'meta.json'))).toBe(true);
    } finally {
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('logs one start-up line with the effective address and the configuration, password masked', async () => {
    const s = await startServer({ args: ['--requirepass', 'hunter2-very-secret'] });
    try {
      const lines = s.logLines().filter((l) => l.msg === 'listening');
      expect(lines.length).toBe(1);
      const line = lines[0] as { address: string; port: number; peerId: string; config: { server: { requirepass: string }; network: { client_address: string } } };
      expect(line.address).toBe(`127.0.0.1:${s.port}`);
      expect(line.peerId).toMatch(/^12D3KooW/);
      expect(line.config.network.client_address).toBe('127.0.0.1:0');
      expect(line.config.server.requirepass).toBe('(set)');
      expect(s.output()).not.toContain('hunter2-very-secret');
    } finally {
      await s.stop();
    }
  });

  it('prints every configuration error and exits 1', () => {
    const r = spawnSync(process.execPath, [MAIN, '--bucket-count', 'four', '--partition-count', '0', '--client-address', 'nowhere'], {
      cwd: REPO_ROOT,
      env: cleanEnv(tempDir('sdb-home-')),
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('bucket.count');
    expect(r.stderr).toContain('partition.count');
    expect(r.stderr).toContain('network.client_address');
  });

  it('--help documents the flags and exits 0', () => {
    const r = spawnSync(process.execPath, [MAIN, '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const flag of ['--dir', '--client-address', '--config', '--log', '--node-count', '--node-index', '--cluster-address', '--mdns', '--requirepass', '--maxclients']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('exits 1 with a fatal log line when the port is taken', async () => {
    const s = await startServer();
    try {
      const dir = path.join(tempDir(), 'db');
      const r = spawnSync(process.execPath, [MAIN, '--dir', dir, '--client-address', `127.0.0.1:${s.port}`, '--log-format', 'json', '--write-threads', '1', '--read-threads', '1'], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/"level":"fatal".*"msg":"cannot listen"/);
      expect(r.stdout).toContain('EADDRINUSE');
    } finally {
      await s.stop();
    }
  });
});
