import { describe, expect, it } from "vitest";
import type { PortalKey } from "../../core/ids";
import type { RemoteEvent } from "../../core/network";
import { type DispatchContext, dispatch } from "../d2m/dispatcher";
import * as fixtures from "./fixtures/messages";

/** A dispatch context whose I/O is recorded, so the test checks what the actions were called with. */
function recordingContext() {
  const toPortal: RemoteEvent[] = [];
  const remembered: [string, PortalKey][] = [];
  const ctx: DispatchContext = {
    ghostUserId: (id) => `@_discord_${id}:example.org`,
    toPortal: async (event) => {
      toPortal.push(event);
      return { roomId: "!portal:example.org", eventId: "$event", duplicate: false };
    },
    rememberPortal: (roomId, key) => void remembered.push([roomId, key]),
  };
  return { ctx, toPortal, remembered };
}

describe("d2m dispatcher", () => {
  it("MESSAGE_CREATE goes to its channel's portal, converted, and the room is remembered", async () => {
    const { ctx, toPortal, remembered } = recordingContext();
    await dispatch(ctx, "MESSAGE_CREATE", fixtures.bold);
    expect(toPortal).toHaveLength(1);
    expect(toPortal[0]).toMatchObject({ portalKey: "112760669178241024", messageId: "1126405859034419222", content: { formatted_body: expect.stringContaining("<strong>bold</strong>") } });
    expect(remembered).toEqual([["!portal:example.org", "112760669178241024"]]);
  });

  it("ignores events it has no handler for, and messages without text", async () => {
    const { ctx, toPortal } = recordingContext();
    await dispatch(ctx, "TYPING_START", { channel_id: "1", user_id: "2", timestamp: 0 });
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, content: "" });
    expect(toPortal).toEqual([]);
  });

  it("rejects a malformed MESSAGE_CREATE instead of bridging garbage", async () => {
    const { ctx, toPortal } = recordingContext();
    await expect(dispatch(ctx, "MESSAGE_CREATE", { id: "1" })).rejects.toThrow();
    expect(toPortal).toEqual([]);
  });
});
