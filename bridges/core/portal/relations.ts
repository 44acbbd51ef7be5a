// How a bridged event points at others: a rich reply, or a thread with its fallback for clients without threads.

export interface RelationTargets {
  /** The thread root's Matrix event, when the remote message is in a thread whose root is bridged. */
  threadRootEventId?: string;
  /** The Matrix event this part answers, when the remote message is a reply to a bridged one. */
  replyToEventId?: string;
  /** The newest event in that thread (the root when there is none yet): the fallback reply target. */
  latestInThreadEventId?: string;
}

/**
 * The `m.relates_to` of one bridged part (Client-Server API, "Threading", "Rich replies"), or nothing. In a thread
 * without a real reply, `m.in_reply_to` falls back to the thread's newest event with `is_falling_back: true`.
 */
export function relatesTo(targets: RelationTargets): { "m.relates_to": Record<string, unknown> } | Record<string, never> {
  const { threadRootEventId: root, replyToEventId: reply, latestInThreadEventId: latest } = targets;
  if (root !== undefined) {
    const inReplyTo = reply ?? latest ?? root;
    return { "m.relates_to": { rel_type: "m.thread", event_id: root, is_falling_back: reply === undefined, "m.in_reply_to": { event_id: inReplyTo } } };
  }
  return reply === undefined ? {} : { "m.relates_to": { "m.in_reply_to": { event_id: reply } } };
}
