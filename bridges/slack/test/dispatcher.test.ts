import { describe, expect, it } from "vitest";
import type { RemoteEvent } from "../../core/network";
import { EventCallback } from "../payloads";
import { type SlackDispatchContext, dispatch } from "../s2m/dispatcher";
import { ALICE, BOB, messageChanged, plainMessage } from "./fixtures/events";

function recordingContext() {
  const sent: RemoteEvent[] = [];
  const lookedUp: string[][] = [];
  const remembered: [string, string][] = [];
  const ctx: SlackDispatchContext = {
    botTeamId: async () => "T0001",
    ghostUserId: (team, user) => `@_slack_${team.toLowerCase()}_${user.toLowerCase()}:example.org`,
    displayNames: async (_team, ids) => {
      lookedUp.push(ids);
      return { [ALICE]: "Alice Anders" };
    },
    toPortal: async (event) => {
      sent.push(event);
      return { roomId: "!portal:example.org", eventId: "$e", duplicate: false };
    },
    rememberPortal: async (roomId, key) => void remembered.push([roomId, key]),
  };
  return { ctx, sent, lookedUp, remembered };
}

describe("s2m dispatcher", () => {
  it("a message: names looked up (sender and mentions), converted, queued to its portal, portal remembered", async () => {
    const { ctx, sent, lookedUp, remembered } = recordingContext();
    await dispatch(ctx, EventCallback.parse(plainMessage));
    expect(lookedUp).toEqual([[ALICE, BOB]]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: "message", portalKey: "T0001:C0100", sender: { id: "T0001:U0042", displayName: "Alice Anders" } });
    // An unknown name falls back to the id.
    expect(sent[0]!.content.body).toContain("ask U0043");
    expect(remembered).toEqual([["!portal:example.org", "T0001:C0100"]]);
  });

  it("subtypes not bridged yet (edits ...), bot messages without a user and other event types do nothing", async () => {
    const { ctx, sent } = recordingContext();
    await dispatch(ctx, EventCallback.parse(messageChanged));
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { type: "message", subtype: "bot_message", bot_id: "B1", text: "x", ts: "1.1", channel: "C1" } }));
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { type: "reaction_added", user: ALICE, reaction: "+1" } }));
    expect(sent).toEqual([]);
  });

  it("events of another workspace than the bot token's are ignored", async () => {
    const { ctx, sent } = recordingContext();
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, team_id: "T9999" }));
    expect(sent).toEqual([]);
  });

  it("a malformed message is rejected, never half-bridged", async () => {
    const { ctx, sent } = recordingContext();
    await expect(dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { type: "message", user: ALICE, text: "x", ts: "not-a-ts", channel: "C1" } }))).rejects.toThrow();
    expect(sent).toEqual([]);
  });
});
