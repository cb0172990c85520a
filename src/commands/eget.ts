/**
 * EGET: one event by id.
 *
 *   EGET <event_id>
 *
 * Reply: the `%11` event map, or `_` (null) when there is no such event. The event's own partition is searched
 * first (from the hash its id embeds), then the other buckets, so client-chosen ids are found too.
 */
import { writeEventOrNull } from '../server/event-reply.ts';
import { uuidArg } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';

export const eget: CommandDescriptor = {
  name: 'EGET',
  arity: 2,
  flags: ['readonly', 'fast'],
  group: 'sierradb',
  since: '0.1.0',
  summary: 'Returns an event by its id, or null.',
  syntax: 'EGET event_id',
  arguments: [{ name: 'event_id', type: 'string' }],
  examples: ['EGET 0190a8e2-6c1d-7a37-8b95-4f4a73390451'],
  execute(ctx, args): Promise<Reply> {
    const eventId = uuidArg(args[0], 'event id');
    return ctx.db.getEventRaw(eventId, { resp: ctx.connection.protocol }).then((batch): Reply => (e) => writeEventOrNull(e, batch));
  },
};
