/**
 * The RESP server: a TCP listener over an open Database. Everything about one client lives in `connection.ts`;
 * this file accepts connections (refusing those beyond `server.maxclients` with
 * `-ERR max number of clients reached`), keeps the counters INFO reports, and shuts down in order:
 *
 *   1. stop accepting;
 *   2. every connection stops executing new requests, lets the commands already running finish (appends in
 *      flight become durable and are acknowledged), writes their replies and closes;
 *   3. connections still open when the deadline passes are destroyed (their appends still complete in the
 *      writers; only the acknowledgements are lost).
 *
 * Closing the Database (writers sync, workers exit) is the caller's next step, so the embedded API keeps
 * ownership of the database it opened.
 */
import net from 'node:net';
import type { Config } from '../config/config-schema.ts';
import { parseHostPort } from '../config/config-schema.ts';
import type { Database } from '../database.ts';
import type { Logger } from '../logging/logger.ts';
import type { ServerCounters, ServerInfo } from '../commands/command.ts';
import { Connection, connectionLimitsDefault, type ConnectionLimits } from './connection.ts';
import { generatePeerId } from './peer-id.ts';
import packageJson from '../../package.json' with { type: 'json' };

export interface ServerOptions {
  readonly db: Database;
  readonly config: Config;
  readonly logger: Logger;
  /** Overrides of the per-connection limits (tests use small ones). */
  readonly limits?: Partial<ConnectionLimits>;
}

export const MAX_CLIENTS_REPLY = '-ERR max number of clients reached\r\n';

export class RespServer {
  readonly #o: ServerOptions;
  readonly #server: net.Server;
  readonly #connections = new Set<Connection>();
  readonly #limits: ConnectionLimits;
  readonly counters: ServerCounters = {
    connectionsReceived: 0,
    connectionsRejected: 0,
    commandsProcessed: 0,
    errorReplies: 0,
    netInputBytes: 0,
    netOutputBytes: 0,
  };
  readonly info: ServerInfo;
  #nextId = 1;
  #port = 0;
  #host = '';
  #shuttingDown: Promise<void> | undefined;

  constructor(o: ServerOptions) {
    this.#o = o;
    const s = o.config.server;
    this.#limits = {
      ...connectionLimitsDefault,
      queryBufferBytesMax: s.client_query_buffer_limit,
      pushOutputBytesMax: s.pubsub_output_buffer_limit_bytes,
      bulkBytesMax: s.proto_max_bulk_len,
      ...o.limits,
    };
    const peerId = generatePeerId();
    const startedAtMs = Date.now();
    const self = this;
    this.info = {
      version: packageJson.version,
      peerId,
      startedAtMs,
      get port() {
        return self.#port;
      },
      connectedClients: () => this.#connections.size,
      totalCommands: () => this.counters.commandsProcessed,
      counters: () => ({ ...this.counters }),
    };
    this.#server = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, (socket) => this.#accept(socket));
  }

  get port(): number {
    return this.#port;
  }

  /** `host:port` as bound (the real port when the configuration asked for port 0). */
  get address(): string {
    return this.#host.includes(':') ? `[${this.#host}]:${this.#port}` : `${this.#host}:${this.#port}`;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  async listen(): Promise<void> {
    const hp = parseHostPort(this.#o.config.network.client_address);
    if (hp === undefined) throw new Error(`invalid network.client_address ${this.#o.config.network.client_address}`);
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: hp.host, port: hp.port, backlog: 511 }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const bound = this.#server.address() as net.AddressInfo;
    this.#port = bound.port;
    this.#host = bound.address;
    this.#server.on('error', (err) => this.#o.logger.error({ err }, 'listener error'));
  }

  #accept(socket: net.Socket): void {
    this.counters.connectionsReceived++;
    if (this.#shuttingDown !== undefined || this.#connections.size >= this.#o.config.server.maxclients) {
      this.counters.connectionsRejected++;
      socket.on('error', () => {});
      socket.end(this.#shuttingDown !== undefined ? '-ERR server is shutting down\r\n' : MAX_CLIENTS_REPLY);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const connection = new Connection({
      id: this.#nextId++,
      socket,
      db: this.#o.db,
      config: this.#o.config,
      server: this.info,
      counters: this.counters,
      logger: this.#o.logger,
      limits: this.#limits,
      onClosed: (c) => this.#connections.delete(c),
    });
    this.#connections.add(connection);
  }

  /**
   * Stops accepting and closes every connection once its running commands are answered; connections still open
   * after `timeoutMs` are destroyed. Resolves when all are closed.
   */
  shutdown(timeoutMs: number): Promise<void> {
    this.#shuttingDown ??= (async () => {
      const listenerClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      const drained = Promise.all([...this.#connections].map((c) => c.shutdown()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([drained.then(() => 'drained' as const), timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.#o.logger.warn({ connections: this.#connections.size }, 'shutdown deadline passed: closing the remaining connections');
        for (const c of this.#connections) c.destroy();
      }
      await listenerClosed;
    })();
    return this.#shuttingDown;
  }
}

/** Creates the server and starts listening. */
export async function startServer(o: ServerOptions): Promise<RespServer> {
  const server = new RespServer(o);
  await server.listen();
  return server;
}
