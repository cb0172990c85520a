/**
 * Writes the README's command reference (between `<!-- commands:start -->` and `<!-- commands:end -->`) from the
 * command table, so the README cannot drift from what the server answers. `npm run docs:commands`;
 * `test/integration/command-docs.test.ts` fails when the README is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { allCommands } from '../src/commands/command-table.ts';
import type { CommandDescriptor } from '../src/commands/command.ts';

export const START_MARKER = '<!-- commands:start -->';
export const END_MARKER = '<!-- commands:end -->';
export const README = fileURLToPath(new URL('../README.md', import.meta.url));

const GROUP_TITLES: Record<CommandDescriptor['group'], string> = {
  sierradb: 'Events',
  pubsub: 'Subscriptions',
  connection: 'Connection',
  server: 'Server',
};

function commandBlock(c: CommandDescriptor): string {
  const lines = [`#### ${c.name}`, '', c.summary, '', '```', c.syntax];
  for (const s of c.subcommands ?? []) if (s.syntax !== c.syntax) lines.push(s.syntax);
  lines.push('```');
  const examples = [...(c.examples ?? []), ...(c.subcommands ?? []).flatMap((s) => s.examples ?? [])];
  if (examples.length > 0) {
    lines.push('', 'Examples:', '', '```');
    lines.push(...examples);
    lines.push('```');
  }
  return lines.join('\n');
}

/** The generated section, without the markers. */
export function renderCommandReference(commands: readonly CommandDescriptor[] = allCommands()): string {
  const out: string[] = [
    '<!-- Generated from src/commands/command-table.ts by `npm run docs:commands`; do not edit by hand. -->',
    '',
    'Command names and keywords are case-insensitive. Replies are RESP3 until a client sends `HELLO 2`.',
    'An unknown command gets `-INVALIDARG unknown command \'NAME\'`; a wrong number of arguments gets',
    "`-INVALIDARG wrong number of arguments for 'name' command` (Redis's text with SierraDB's code); any other bad",
    'argument gets `-INVALIDARG <what was wrong>`. None of these closes the connection; only a malformed frame does',
    '(`-ERR Protocol error: ...`).',
    '',
    '| command | summary |',
    '|---|---|',
  ];
  for (const c of commands) out.push(`| [\`${c.name}\`](#${c.name.toLowerCase()}) | ${c.summary.replaceAll('|', '\\|')} |`);
  const groups = [...new Set(commands.map((c) => c.group))];
  for (const g of groups) {
    out.push('', `### ${GROUP_TITLES[g]}`);
    for (const c of commands.filter((x) => x.group === g)) out.push('', commandBlock(c));
  }
  return out.join('\n');
}

/** README text with the section replaced (markers kept). */
export function withCommandReference(readme: string, section: string = renderCommandReference()): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start === -1 || end === -1 || end < start) throw new Error(`README.md lacks the ${START_MARKER} ... ${END_MARKER} markers`);
  return `${readme.slice(0, start + START_MARKER.length)}\n${section}\n${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const before = readFileSync(README, 'utf8');
  const after = withCommandReference(before);
  if (after === before) {
    console.log('README.md command reference is up to date');
  } else {
    writeFileSync(README, after);
    console.log(`README.md command reference regenerated (${allCommands().length} commands)`);
  }
}
