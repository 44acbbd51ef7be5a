/**
 * The bridge bot's command line in a management room, network-neutral: a connector lists its commands, this
 * parses the person's message, runs the one named and returns the bot's answer. `help` is built from the table.
 */
export interface BridgeCommand {
  /** The verb, lower case: `login`, `list`, `bridge` ... */
  name: string;
  /** The arguments as shown in `help`, e.g. `<token>`. */
  usage?: string;
  help: string;
  run(args: string[]): Promise<string>;
}

/** Runs the command in `text` (first word the verb, case-insensitive; the rest whitespace-separated arguments). */
export async function runManagementCommand(text: string, commands: readonly BridgeCommand[]): Promise<string> {
  const [verb = "", ...args] = text.trim().split(/\s+/);
  const name = verb.toLowerCase();
  if (name === "help" || name === "") return helpText(commands);
  const command = commands.find((c) => c.name === name);
  if (!command) return `Unknown command ${JSON.stringify(verb)}. Say "help" for the list.`;
  return command.run(args);
}

export function helpText(commands: readonly BridgeCommand[]): string {
  const lines = commands.map((c) => `${c.name}${c.usage ? ` ${c.usage}` : ""}: ${c.help}`);
  return ["Commands:", "help: this list", ...lines].join("\n");
}
