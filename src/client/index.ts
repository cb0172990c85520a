/**
 * `sierradb-ts/client`: the TypeScript client for this server (and SierraDB's wire protocol).
 *
 *   import { SierraClient, SubscriptionManager } from 'sierradb-ts/client';
 *
 * - `SierraClient`: a typed method for every command (EAPPEND, EMAPPEND, EGET, ESCAN, ESVER, EPSCAN, EPSEQ, ESUB,
 *   EPSUB, EACK, EUNSUB, HELLO, PING), and `call(...)` for anything else.
 * - `SubscriptionManager`: subscriptions with ordered delivery to a handler, automatic (or manual) acks, and
 *   resumption after a lost connection from the position after the last event delivered.
 */
export { SierraClient, esubArgs, epsubArgs } from './client.ts';
export type {
  AppendOptions,
  Bytes,
  ExpectedVersion,
  MultiAppendEvent,
  PartitionSelector,
  StreamSelector,
  SubscribeFrom,
  SubscribeOptions,
} from './client.ts';
export { RespConnection, ConnectionClosedError, connectDefaults } from './connection.ts';
export type { Argument, ConnectOptions } from './connection.ts';
export { UnexpectedReplyError } from './replies.ts';
export type { AppendResult, Event, HelloInfo, MultiAppendResult, ScanPage } from './replies.ts';
export { ManagedSubscription, SubscriptionManager, expandPartitions, subscriptionManagerDefaults } from './subscription-manager.ts';
export type { EventContext, EventHandler, ManagedSubscribeOptions, SubscriptionManagerOptions } from './subscription-manager.ts';
export { ReplyError } from '../protocol/reply-error.ts';
