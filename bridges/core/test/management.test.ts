import { describe, expect, it } from "vitest";
import { type BridgeCommand, runManagementCommand } from "../management";

const seen: string[][] = [];
const commands: BridgeCommand[] = [
  { name: "ping", help: "whether the bridge is connected", run: async () => "pong" },
  { name: "bridge", usage: "<channel>", help: "bridges a channel", run: async (args) => (seen.push(args), `bridging ${args.join("+")}`) },
];

describe("runManagementCommand", () => {
  it("lists every command with its usage under help", async () => {
    expect(await runManagementCommand("help", commands)).toBe(
      "Commands:\nhelp: this list\nping: whether the bridge is connected\nbridge <channel>: bridges a channel",
    );
  });

  it("runs the named command, case-insensitively, with its arguments", async () => {
    expect(await runManagementCommand("  BRIDGE  123   456 ", commands)).toBe("bridging 123+456");
    expect(seen.at(-1)).toEqual(["123", "456"]);
  });

  it("answers an unknown verb with a pointer to help", async () => {
    expect(await runManagementCommand("frobnicate now", commands)).toBe('Unknown command "frobnicate". Say "help" for the list.');
  });
});
