// The transaction event reader: each kind of raw event and the exact BridgeMatrixEvent it becomes.
import { describe, expect, it } from "vitest";
import { parseBridgeEvent, stripHtmlReplyFallback, stripReplyFallback } from "../matrix/events";

const base = { event_id: "$e", room_id: "!r:hs", sender: "@me:hs", origin_server_ts: 1 };
const message = (content: object) => ({ ...base, type: "m.room.message", content });

describe("parseBridgeEvent: messages", () => {
  it("a plain text, notice and emote, HTML kept only in Matrix's format", () => {
    expect(parseBridgeEvent(message({ msgtype: "m.text", body: "hi", format: "org.matrix.custom.html", formatted_body: "<b>hi</b>" }))).toEqual({
      kind: "message",
      message: { eventId: "$e", roomId: "!r:hs", sender: "@me:hs", content: { msgtype: "m.text", body: "hi", format: "org.matrix.custom.html", formatted_body: "<b>hi</b>" } },
    });
    expect(parseBridgeEvent(message({ msgtype: "m.emote", body: "waves", format: "text/weird", formatted_body: "x" }))).toEqual({
      kind: "message",
      message: { eventId: "$e", roomId: "!r:hs", sender: "@me:hs", content: { msgtype: "m.emote", body: "waves" } },
    });
  });

  it("a reply: its target, with the fallback stripped from body and formatted_body", () => {
    const raw = message({
      msgtype: "m.text",
      body: "> <@them:hs> first\n> second\n\nthe answer",
      format: "org.matrix.custom.html",
      formatted_body: "<mx-reply><blockquote><a href=\"https://matrix.to/#/$t\">In reply to</a> first</blockquote></mx-reply>the <i>answer</i>",
      "m.relates_to": { "m.in_reply_to": { event_id: "$t" } },
    });
    expect(parseBridgeEvent(raw)).toEqual({
      kind: "message",
      message: {
        eventId: "$e",
        roomId: "!r:hs",
        sender: "@me:hs",
        content: { msgtype: "m.text", body: "the answer", format: "org.matrix.custom.html", formatted_body: "the <i>answer</i>" },
        replyToEventId: "$t",
      },
    });
  });

  it("a thread message: its root; the falling-back in_reply_to is not a reply, a real one inside the thread is", () => {
    const falling = message({ msgtype: "m.text", body: "> quoted\n\nin thread", "m.relates_to": { rel_type: "m.thread", event_id: "$root", is_falling_back: true, "m.in_reply_to": { event_id: "$last" } } });
    expect(parseBridgeEvent(falling)).toEqual({
      kind: "message",
      message: { eventId: "$e", roomId: "!r:hs", sender: "@me:hs", content: { msgtype: "m.text", body: "> quoted\n\nin thread" }, threadRootEventId: "$root" },
    });
    const reply = message({ msgtype: "m.text", body: "answer", "m.relates_to": { rel_type: "m.thread", event_id: "$root", "m.in_reply_to": { event_id: "$t" } } });
    expect(parseBridgeEvent(reply)).toEqual({
      kind: "message",
      message: { eventId: "$e", roomId: "!r:hs", sender: "@me:hs", content: { msgtype: "m.text", body: "answer" }, replyToEventId: "$t", threadRootEventId: "$root" },
    });
  });

  it("a file: mxc, filename, mimetype; the body is a caption only when a filename differs", () => {
    expect(parseBridgeEvent(message({ msgtype: "m.image", body: "cat.png", url: "mxc://hs/abc", info: { mimetype: "image/png", size: 3 } }))).toEqual({
      kind: "message",
      message: { eventId: "$e", roomId: "!r:hs", sender: "@me:hs", content: { msgtype: "m.text", body: "" }, media: { mxc: "mxc://hs/abc", filename: "cat.png", mimetype: "image/png" } },
    });
    const captioned = message({
      msgtype: "m.file",
      body: "see *this*",
      format: "org.matrix.custom.html",
      formatted_body: "see <em>this</em>",
      filename: "report.pdf",
      url: "mxc://hs/def",
      "m.relates_to": { rel_type: "m.thread", event_id: "$root" },
    });
    expect(parseBridgeEvent(captioned)).toEqual({
      kind: "message",
      message: {
        eventId: "$e",
        roomId: "!r:hs",
        sender: "@me:hs",
        content: { msgtype: "m.text", body: "see *this*", format: "org.matrix.custom.html", formatted_body: "see <em>this</em>" },
        media: { mxc: "mxc://hs/def", filename: "report.pdf" },
        threadRootEventId: "$root",
      },
    });
  });

  it("nothing for encrypted files, unknown msgtypes and malformed events", () => {
    expect(parseBridgeEvent(message({ msgtype: "m.image", body: "x.png", file: { url: "mxc://hs/enc" } }))).toBeNull();
    expect(parseBridgeEvent(message({ msgtype: "m.location", body: "here", geo_uri: "geo:1,2" }))).toBeNull();
    expect(parseBridgeEvent(message({ msgtype: "m.text" }))).toBeNull();
    expect(parseBridgeEvent({ type: "m.room.message" })).toBeNull();
    expect(parseBridgeEvent(null)).toBeNull();
    expect(parseBridgeEvent("event")).toBeNull();
  });
});

describe("parseBridgeEvent: changes", () => {
  it("an edit: its target and the new content", () => {
    const raw = message({
      msgtype: "m.text",
      body: "* fixed",
      "m.new_content": { msgtype: "m.text", body: "fixed", format: "org.matrix.custom.html", formatted_body: "<b>fixed</b>" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$old" },
    });
    expect(parseBridgeEvent(raw)).toEqual({
      kind: "edit",
      eventId: "$e",
      roomId: "!r:hs",
      sender: "@me:hs",
      targetEventId: "$old",
      content: { msgtype: "m.text", body: "fixed", format: "org.matrix.custom.html", formatted_body: "<b>fixed</b>" },
    });
    expect(parseBridgeEvent(message({ msgtype: "m.text", body: "* x", "m.relates_to": { rel_type: "m.replace", event_id: "$old" } }))).toBeNull();
  });

  it("a reaction", () => {
    expect(parseBridgeEvent({ ...base, type: "m.reaction", content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$t", key: "👍" } } })).toEqual({
      kind: "reaction",
      eventId: "$e",
      roomId: "!r:hs",
      sender: "@me:hs",
      targetEventId: "$t",
      key: "👍",
    });
  });

  it("a redaction, redacts in the content (v11) or at the top (older rooms)", () => {
    const expected = { kind: "redaction", eventId: "$e", roomId: "!r:hs", sender: "@me:hs", redacts: "$t" };
    expect(parseBridgeEvent({ ...base, type: "m.room.redaction", content: { redacts: "$t" } })).toEqual(expected);
    expect(parseBridgeEvent({ ...base, type: "m.room.redaction", redacts: "$t", content: {} })).toEqual(expected);
    expect(parseBridgeEvent({ ...base, type: "m.room.redaction", content: {} })).toBeNull();
  });
});

describe("parseBridgeEvent: invites and ephemeral events", () => {
  it("an invite; other memberships are nothing", () => {
    const member = (membership: string) => ({ ...base, type: "m.room.member", state_key: "@bot:hs", content: { membership } });
    expect(parseBridgeEvent(member("invite"))).toEqual({ kind: "invite", roomId: "!r:hs", sender: "@me:hs", stateKey: "@bot:hs" });
    expect(parseBridgeEvent(member("join"))).toBeNull();
  });

  it("typing: everyone typing in the room", () => {
    expect(parseBridgeEvent({ type: "m.typing", room_id: "!r:hs", content: { user_ids: ["@me:hs", "@x:hs"] } })).toEqual({
      kind: "typing",
      roomId: "!r:hs",
      userIds: ["@me:hs", "@x:hs"],
    });
  });

  it("receipts: the m.read ones only", () => {
    const raw = {
      type: "m.receipt",
      room_id: "!r:hs",
      content: {
        $a: { "m.read": { "@me:hs": { ts: 1 }, "@x:hs": { ts: 2, thread_id: "main" } } },
        $b: { "m.read.private": { "@me:hs": { ts: 3 } } },
      },
    };
    expect(parseBridgeEvent(raw)).toEqual({
      kind: "receipt",
      roomId: "!r:hs",
      reads: [
        { eventId: "$a", userId: "@me:hs" },
        { eventId: "$a", userId: "@x:hs" },
      ],
    });
    expect(parseBridgeEvent({ type: "m.receipt", room_id: "!r:hs", content: { $b: { "m.read.private": { "@me:hs": { ts: 3 } } } } })).toBeNull();
  });
});

describe("reply fallbacks", () => {
  it("body: leading quoted lines and the blank line after them; a quote without the blank line stays", () => {
    expect(stripReplyFallback("> <@a:b> first\n> second\n\nthe answer\nmore")).toBe("the answer\nmore");
    expect(stripReplyFallback("the answer")).toBe("the answer");
    expect(stripReplyFallback("> a quote of mine\nno blank line")).toBe("> a quote of mine\nno blank line");
  });

  it("formatted_body: the leading mx-reply element only", () => {
    expect(stripHtmlReplyFallback("<mx-reply><blockquote>q</blockquote></mx-reply><p>a</p>")).toBe("<p>a</p>");
    expect(stripHtmlReplyFallback("<p>a</p><mx-reply>x</mx-reply>")).toBe("<p>a</p><mx-reply>x</mx-reply>");
  });
});
