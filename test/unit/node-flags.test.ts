import fs from 'node:fs';
import { expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../../src/cli/node-flags.ts';

const read = (file: string): string => fs.readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

it('every way of starting the server passes the server Node flags', () => {
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start;
  const shebang = read('src/cli/main.ts').split('\n')[0];
  const entrypoint = read('Dockerfile').split('\n').find((l) => l.startsWith('ENTRYPOINT')) ?? '';
  expect(SERVER_NODE_FLAGS.length).toBeGreaterThan(0);
  for (const flag of SERVER_NODE_FLAGS) {
    expect(start.split(' ')).toContain(flag);
    expect(shebang.split(' ')).toContain(flag);
    expect(entrypoint).toContain(`"${flag}"`);
  }
});
