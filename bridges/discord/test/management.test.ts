import { describe, expect, it } from "vitest";
import type { GatewayStatus } from "../gateway/gateway-object";
import { managementReply } from "../management";

const status: GatewayStatus = {
  enabled: true,
  connected: true,
  ready: true,
  sessionId: "s",
  sequence: 3,
  botUserId: "42",
  identifies: 1,
  resumes: 0,
  fatalError: null,
};

describe("management room commands", () => {
  it("help lists the commands", () => {
    expect(managementReply("help", status)).toMatch(/^Commands:\nhelp: .*\nping: .*\nlogin /);
  });

  it("ping tells connected, reconnecting and stopped apart", () => {
    expect(managementReply(" PING ", status)).toBe("Connected to Discord as bot user 42.");
    expect(managementReply("ping", { ...status, connected: false, ready: false })).toBe("Not connected to Discord right now; reconnecting.");
    expect(managementReply("ping", { ...status, connected: false, fatalError: "Discord closed the gateway with code 4004" })).toContain("code 4004");
  });

  it("says plainly that login from chat is not there yet, and names unknown commands", () => {
    expect(managementReply("login abc", status)).toContain("not available yet");
    expect(managementReply("frobnicate now", status)).toBe('Unknown command "frobnicate". Say "help" for the list.');
  });
});
