/**
 * Opaque ids of the remote network, branded so the core never mixes them up and never parses them:
 * only the network connector that made an id knows what is inside.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** One remote chat (a Discord channel, a Slack conversation): one portal room, one portal Durable Object. */
export type PortalKey = Brand<string, "PortalKey">;
/** One remote user: one ghost Matrix user. */
export type RemoteUserId = Brand<string, "RemoteUserId">;
/** One remote message: mapped to the Matrix event(s) that carry it. */
export type RemoteMessageId = Brand<string, "RemoteMessageId">;

export const portalKey = (raw: string): PortalKey => raw as PortalKey;
export const remoteUserId = (raw: string): RemoteUserId => raw as RemoteUserId;
export const remoteMessageId = (raw: string): RemoteMessageId => raw as RemoteMessageId;
