import { describe, expect, it } from "vitest";
import { RegistrationError, checkRegistry, compileRegistration, ownsUser, resolveSecrets } from "../../src/appservice/registration";

const base = {
  id: "discord",
  url: "http://127.0.0.1:29334",
  as_token: "as-secret",
  hs_token: "hs-secret",
  sender_localpart: "_discord_bot",
  namespaces: { users: [{ exclusive: true, regex: "@_discord_[0-9]+:example\\.org" }], aliases: [{ exclusive: true, regex: "#_discord_.*:example\\.org" }] },
};

const compile = (raw: unknown, where = "APPSERVICES[0]") => compileRegistration(raw, "example.org", where);

describe("appservice registration", () => {
  it("compiles namespaces as full, anchored matches", () => {
    const as = compile(base);
    expect(as.senderUserId).toBe("@_discord_bot:example.org");
    expect(ownsUser(as, "@_discord_123:example.org")).toBe(true);
    expect(ownsUser(as, "@_discord_bot:example.org")).toBe(true);
    // Not a prefix or substring match.
    expect(ownsUser(as, "@_discord_123:example.org.evil")).toBe(false);
    expect(ownsUser(as, "@x_discord_123:example.org")).toBe(false);
    expect(ownsUser(as, "@_discord_12a:example.org")).toBe(false);
    expect(as.rateLimited).toBe(true);
    expect(as.rooms).toEqual([]);
  });

  it("reads the ephemeral flags (stable and MSC2409) and MSC3202", () => {
    expect(compile({ ...base, receive_ephemeral: true }).receiveEphemeral).toBe(true);
    expect(compile({ ...base, "de.sorunome.msc2409.push_ephemeral": true }).receiveEphemeral).toBe(true);
    expect(compile(base).receiveEphemeral).toBe(false);
    expect(compile({ ...base, "org.matrix.msc3202": true }).msc3202).toBe(true);
  });

  it("rejects an invalid regex, naming the entry and the namespace", () => {
    const bad = { ...base, namespaces: { users: [{ exclusive: true, regex: "@_discord_(:example.org" }] } };
    expect(() => compile(bad, "APPSERVICES[3]")).toThrow(/APPSERVICES\[3\] \(id "discord"\): namespaces\.users\[0\]: invalid regex/);
  });

  it("rejects missing fields and bad values with the field's name", () => {
    const { as_token: _, ...noToken } = base;
    expect(() => compile(noToken)).toThrow(/APPSERVICES\[0\]: as_token/);
    expect(() => compile({ ...base, url: "ftp://x" })).toThrow(/url/);
    expect(() => compile({ ...base, sender_localpart: "Bad Name" })).toThrow(/sender_localpart/);
    expect(() => compile({ ...base, hs_token: base.as_token })).toThrow(/must differ/);
  });

  it("accepts a registration without url (no pushes)", () => {
    expect(compile({ ...base, url: null }).url).toBeNull();
  });

  it("resolves ${SECRET} references and names a missing secret", () => {
    const resolved = resolveSecrets({ ...base, as_token: "${DISCORD_AS}" }, { DISCORD_AS: "from-secret" }, "APPSERVICES[0]");
    expect(compile(resolved).asToken).toBe("from-secret");
    expect(() => resolveSecrets({ ...base, hs_token: "${NOPE}" }, {}, "APPSERVICES[1]")).toThrow(/APPSERVICES\[1\]: secret \$\{NOPE\} is not set/);
  });

  it("rejects duplicate ids, reused tokens and overlapping exclusive namespaces", () => {
    const a = { as: compile(base), where: "APPSERVICES[0]" };
    const sameId = { as: compile({ ...base, as_token: "t2", hs_token: "t3", sender_localpart: "other", namespaces: {} }), where: "APPSERVICES[1]" };
    expect(() => checkRegistry([a, sameId])).toThrow(/APPSERVICES\[1\] \(id "discord"\): duplicate id/);
    const sameToken = { as: compile({ ...base, id: "slack", hs_token: "t3", sender_localpart: "slackbot", namespaces: {} }), where: "APPSERVICES[1]" };
    expect(() => checkRegistry([a, sameToken])).toThrow(/as_token is also used/);
    const overlap = {
      as: compile({ ...base, id: "slack", as_token: "t2", hs_token: "t3", sender_localpart: "slackbot" }),
      where: "APPSERVICES[1]",
    };
    expect(() => checkRegistry([a, overlap])).toThrow(/overlaps the exclusive namespace/);
    const senderInside = {
      as: compile({ ...base, id: "slack", as_token: "t2", hs_token: "t3", sender_localpart: "_discord_42", namespaces: {} }),
      where: "APPSERVICES[1]",
    };
    expect(() => checkRegistry([a, senderInside])).toThrow(/inside the exclusive user namespace/);
    const fine = { as: compile({ ...base, id: "slack", as_token: "t2", hs_token: "t3", sender_localpart: "slackbot", namespaces: {} }), where: "APPSERVICES[1]" };
    expect(() => checkRegistry([a, fine])).not.toThrow();
  });

  it("throws RegistrationError, not a zod dump", () => {
    expect(() => compile(42)).toThrow(RegistrationError);
  });
});
