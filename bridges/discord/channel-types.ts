/**
 * Discord's channel types as the bridge groups them (Discord's "Channel Types"; numbers, because discord-api-types'
 * payload enums are not loadable at runtime in the Workers test pool).
 */

/** Text (0), announcement (5) and forum (15) channels: a portal each (threads go to their parent's portal). */
export const BRIDGEABLE_CHANNEL_TYPES: ReadonlySet<number> = new Set([0, 5, 15]);
/** Announcement (10), public (11) and private (12) threads: to the parent channel's portal, as a Matrix thread. */
export const THREAD_CHANNEL_TYPES: ReadonlySet<number> = new Set([10, 11, 12]);
/** DMs (1) and group DMs (3): bridged without `bridge`, as direct rooms. */
export const DM_CHANNEL_TYPES: ReadonlySet<number> = new Set([1, 3]);
export const CATEGORY_CHANNEL_TYPE = 4;
