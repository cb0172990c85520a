/**
 * Command-line parsing: SierraDB's flags (`-d/--dir`, `--client-address`, `-c/--config`, `-l/--log`,
 * `-n/--node-count`, `-i/--node-index`, `--cluster-address`, `--mdns <bool>`) plus ours, each mapped to a config key.
 *
 *   sierradb [serve] [flags]          run the server (the default command)
 *   sierradb verify [--dir D] [--repair] [--json]   check (and optionally repair) a database directory
 *
 * Values stay strings here; `loadConfig` parses them with the same rules as file and environment values, so a bad
 * `--bucket-count` is reported next to every other configuration error. Nothing here exits the process or prints:
 * `--help`, `--version` and usage errors come back as `{ command: 'exit' }` with the text to show.
 */
import yargs, { type Argv } from 'yargs';
import { KEY_SPECS, envNameForKey, type ConfigKey } from '../config/config-schema.ts';
import packageJson from '../../package.json' with { type: 'json' };

/** Raw flag values by config key; `loadConfig` parses and validates them. */
export type ConfigFlags = Readonly<Partial<Record<ConfigKey, string | boolean>>>;

export interface ServeArgs {
  readonly command: 'serve';
  readonly flags: ConfigFlags;
  /** `-c/--config`: the TOML file to read. */
  readonly configFile: string | undefined;
}

export interface VerifyArgs {
  readonly command: 'verify';
  readonly flags: ConfigFlags;
  readonly configFile: string | undefined;
  /** Rebuild missing or damaged index files of sealed segments from their data files (data files are never written). */
  readonly repair: boolean;
  /** Print the report as JSON instead of text. */
  readonly json: boolean;
}

/** `--help`, `--version` or a usage error: print `output` (stdout when exitCode is 0, else stderr) and exit. */
export interface ExitArgs {
  readonly command: 'exit';
  readonly exitCode: 0 | 1;
  readonly output: string;
}

/** What `loadConfig` accepts. */
export type CommandArgs = ServeArgs | VerifyArgs;
export type ParsedArgs = CommandArgs | ExitArgs;

type Command = 'serve' | 'verify';

interface FlagSpec {
  readonly name: string;
  readonly alias?: string;
  readonly key: ConfigKey;
  /** Takes no value (`--mdns`, `--mdns false`, `--no-mdns`); otherwise one value is required. */
  readonly boolean?: true;
  readonly commands: readonly Command[];
  readonly group: string;
}

const GROUP_SERVER = 'Server:';
const GROUP_STORAGE = 'Storage:';
const GROUP_CLUSTER = 'Cluster:';
const GROUP_LOGGING = 'Logging:';

/** Every flag that sets a config key, in `--help` order. */
export const CONFIG_FLAGS: readonly FlagSpec[] = [
  { name: 'dir', alias: 'd', key: 'dir', commands: ['serve', 'verify'], group: GROUP_STORAGE },
  { name: 'bucket-count', key: 'bucket.count', commands: ['serve'], group: GROUP_STORAGE },
  { name: 'partition-count', key: 'partition.count', commands: ['serve'], group: GROUP_STORAGE },
  { name: 'segment-size', key: 'segment.size_bytes', commands: ['serve'], group: GROUP_STORAGE },
  { name: 'strict-versioning', key: 'append.strict_versioning', boolean: true, commands: ['serve'], group: GROUP_STORAGE },
  { name: 'read-threads', key: 'threads.read', commands: ['serve'], group: GROUP_STORAGE },
  { name: 'write-threads', key: 'threads.write', commands: ['serve'], group: GROUP_STORAGE },
  { name: 'client-address', key: 'network.client_address', commands: ['serve'], group: GROUP_SERVER },
  { name: 'requirepass', key: 'server.requirepass', commands: ['serve'], group: GROUP_SERVER },
  { name: 'maxclients', key: 'server.maxclients', commands: ['serve'], group: GROUP_SERVER },
  { name: 'cluster-address', key: 'network.cluster_address', commands: ['serve'], group: GROUP_CLUSTER },
  { name: 'node-count', alias: 'n', key: 'node.count', commands: ['serve'], group: GROUP_CLUSTER },
  { name: 'node-index', alias: 'i', key: 'node.index', commands: ['serve'], group: GROUP_CLUSTER },
  { name: 'mdns', key: 'network.mdns', boolean: true, commands: ['serve'], group: GROUP_CLUSTER },
  { name: 'log', alias: 'l', key: 'log.level', commands: ['serve', 'verify'], group: GROUP_LOGGING },
  { name: 'log-format', key: 'log.format', commands: ['serve', 'verify'], group: GROUP_LOGGING },
];

const flagByKey = new Map<ConfigKey, FlagSpec>(CONFIG_FLAGS.map((f) => [f.key, f]));

/** The long flag (without `--`) that sets `key`, if there is one. */
export function flagNameForKey(key: ConfigKey): string | undefined {
  return flagByKey.get(key)?.name;
}

// One paragraph: yargs wraps it to the terminal width.
const EPILOGUE =
  'Every setting can also be given in a TOML file (-c; otherwise ./sierra.toml or ~/.config/sierradb/sierra.toml) ' +
  'or as an environment variable named SIERRA_ + the key upper-cased with "." as "_" (SIERRA_DIR, ' +
  'SIERRA_NETWORK_CLIENT_ADDRESS, SIERRA_BUCKET_COUNT, ...). Flags win over variables, variables over the file, ' +
  'the file over defaults. Sizes in bytes accept units: 64MiB, 1GiB. config/sierradb.toml lists every key with ' +
  'its default.';

/** Kinds whose values are text; numeric flags are left untyped so `--help` does not call them strings. */
const TEXT_KINDS: ReadonlySet<string> = new Set(['string', 'path', 'password', 'host_port', 'multiaddr', 'choice']);

function addConfigFlags(y: Argv, command: Command): Argv {
  for (const f of CONFIG_FLAGS) {
    if (!f.commands.includes(command)) continue;
    const spec = KEY_SPECS[f.key];
    const describe = `${spec.doc} [${f.key}, ${envNameForKey(f.key)}]`;
    if (f.boolean === true) {
      // No `default`: an absent flag must stay absent so lower layers (env, file) are not overridden.
      y.option(f.name, { type: 'boolean', describe, defaultDescription: spec.defaultText, group: f.group });
    } else {
      // Untyped numeric flags stay strings too ('parse-numbers' is off); loadConfig parses every value itself.
      const type = TEXT_KINDS.has(spec.kind) ? ('string' as const) : undefined;
      y.option(f.name, { type, requiresArg: true, describe, defaultDescription: spec.defaultText, group: f.group });
    }
    if (f.alias !== undefined) y.alias(f.name, f.alias);
  }
  return y;
}

/** The yargs definition, exposed so tests (and `COMMAND DOCS`-style generators) can inspect it. */
export function buildParser(argv: readonly string[]): { parser: Argv; ran: () => Command | undefined } {
  let ran: Command | undefined;
  const parser = yargs([...argv])
    .scriptName('sierradb')
    .usage('$0 [serve] [options]\n\nA durable event store, wire-compatible with SierraDB (RESP3).')
    .parserConfiguration({
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'duplicate-arguments-array': false,
      'greedy-arrays': false,
      'camel-case-expansion': false,
    })
    .option('config', {
      alias: 'c',
      type: 'string',
      requiresArg: true,
      describe: `TOML config file [${'SIERRA_CONFIG'}]`,
      defaultDescription: './sierra.toml, else ~/.config/sierradb/sierra.toml, if present',
      group: 'General:',
    })
    .command(
      ['serve', '$0'],
      'Run the server (the default command)',
      (y) => addConfigFlags(y, 'serve'),
      () => {
        ran = 'serve';
      },
    )
    .command(
      'verify',
      'Check a data directory: record checksums, torn tails, index files, gapless sequences and versions',
      (y) =>
        addConfigFlags(y, 'verify')
          .option('repair', {
            type: 'boolean',
            default: false,
            describe: 'Rebuild missing or damaged index files of sealed segments from their data files (data files are never written), then verify again',
            group: 'Verify:',
          })
          .option('json', {
            type: 'boolean',
            default: false,
            describe: 'Print the report as JSON',
            group: 'Verify:',
          }),
      () => {
        ran = 'verify';
      },
    )
    .strict()
    .help('help')
    .alias('help', 'h')
    .version('version', 'Show the version number', packageJson.version)
    .alias('version', 'V')
    .epilogue(EPILOGUE)
    .wrap(Math.min(120, process.stdout.columns || 100))
    .exitProcess(false);
  return { parser, ran: () => ran };
}

/** Parses `argv` (without `node` and the script path: `process.argv.slice(2)`). Never exits or prints. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const { parser, ran } = buildParser(argv);
  let failure: string | undefined;
  let output = '';
  parser.fail((msg, err) => {
    failure ??= msg ?? err?.message ?? 'invalid arguments';
  });
  let parsed: Record<string, unknown>;
  try {
    parsed = parser.parseSync([...argv], {}, (_err, _argv, out) => {
      output += out;
    }) as Record<string, unknown>;
  } catch (err) {
    failure ??= (err as Error).message;
    parsed = {};
  }
  if (failure !== undefined) {
    return { command: 'exit', exitCode: 1, output: `sierradb: ${failure}\nRun 'sierradb --help' for usage.\n` };
  }
  const command = ran();
  if (command === undefined) return { command: 'exit', exitCode: 0, output: output.endsWith('\n') ? output : `${output}\n` };

  const flags: Partial<Record<ConfigKey, string | boolean>> = {};
  for (const f of CONFIG_FLAGS) {
    const v = parsed[f.name];
    if (f.commands.includes(command) && (typeof v === 'string' || typeof v === 'boolean')) flags[f.key] = v;
  }
  const configFile = typeof parsed.config === 'string' ? parsed.config : undefined;
  if (command === 'verify') return { command, flags, configFile, repair: parsed.repair === true, json: parsed.json === true };
  return { command, flags, configFile };
}

/** The full `--help` text (for tests and docs). */
export function helpText(command?: Command): string {
  const result = parseArgs(command === undefined ? ['--help'] : [command, '--help']);
  return result.command === 'exit' ? result.output : '';
}
