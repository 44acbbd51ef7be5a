/**
 * Slack emoji shortcodes <-> Unicode, for the common set (Unicode CLDR short names as Slack spells them). Custom
 * workspace emoji and names not in the table stay as `:name:` text, both ways. The first name of each emoji is the
 * one used towards Slack; later ones are Slack's aliases.
 */
const TABLE: [string, string[]][] = [
  ["👍", ["+1", "thumbsup"]],
  ["👎", ["-1", "thumbsdown"]],
  ["❤️", ["heart"]],
  ["😄", ["smile"]],
  ["😃", ["smiley"]],
  ["😀", ["grinning"]],
  ["😁", ["grin"]],
  ["😆", ["laughing", "satisfied"]],
  ["😅", ["sweat_smile"]],
  ["😂", ["joy"]],
  ["🤣", ["rolling_on_the_floor_laughing", "rofl"]],
  ["🙂", ["slightly_smiling_face"]],
  ["🙃", ["upside_down_face"]],
  ["😉", ["wink"]],
  ["😊", ["blush"]],
  ["😇", ["innocent"]],
  ["😍", ["heart_eyes"]],
  ["😘", ["kissing_heart"]],
  ["😋", ["yum"]],
  ["😛", ["stuck_out_tongue"]],
  ["😜", ["stuck_out_tongue_winking_eye"]],
  ["🤔", ["thinking_face"]],
  ["🤐", ["zipper_mouth_face"]],
  ["😐", ["neutral_face"]],
  ["😑", ["expressionless"]],
  ["😶", ["no_mouth"]],
  ["😏", ["smirk"]],
  ["😒", ["unamused"]],
  ["🙄", ["face_with_rolling_eyes", "roll_eyes"]],
  ["😬", ["grimacing"]],
  ["😌", ["relieved"]],
  ["😔", ["pensive"]],
  ["😴", ["sleeping"]],
  ["😷", ["mask"]],
  ["🤒", ["face_with_thermometer"]],
  ["🤯", ["exploding_head"]],
  ["🥳", ["partying_face"]],
  ["😎", ["sunglasses"]],
  ["🤓", ["nerd_face"]],
  ["😕", ["confused"]],
  ["😟", ["worried"]],
  ["🙁", ["slightly_frowning_face"]],
  ["😮", ["open_mouth"]],
  ["😲", ["astonished"]],
  ["😳", ["flushed"]],
  ["🥺", ["pleading_face"]],
  ["😢", ["cry"]],
  ["😭", ["sob"]],
  ["😱", ["scream"]],
  ["😖", ["confounded"]],
  ["😞", ["disappointed"]],
  ["😓", ["sweat"]],
  ["😩", ["weary"]],
  ["😤", ["triumph"]],
  ["😡", ["rage"]],
  ["😠", ["angry"]],
  ["🤬", ["face_with_symbols_on_mouth"]],
  ["💀", ["skull"]],
  ["💩", ["hankey", "poop", "shit"]],
  ["🤡", ["clown_face"]],
  ["👻", ["ghost"]],
  ["👽", ["alien"]],
  ["🤖", ["robot_face"]],
  ["🙈", ["see_no_evil"]],
  ["🙉", ["hear_no_evil"]],
  ["🙊", ["speak_no_evil"]],
  ["👋", ["wave"]],
  ["✋", ["hand", "raised_hand"]],
  ["👌", ["ok_hand"]],
  ["✌️", ["v"]],
  ["🤞", ["crossed_fingers", "hand_with_index_and_middle_fingers_crossed"]],
  ["🤘", ["the_horns", "sign_of_the_horns"]],
  ["👈", ["point_left"]],
  ["👉", ["point_right"]],
  ["👆", ["point_up_2"]],
  ["👇", ["point_down"]],
  ["☝️", ["point_up"]],
  ["✊", ["fist", "raised_fist"]],
  ["👊", ["facepunch", "punch"]],
  ["👏", ["clap"]],
  ["🙌", ["raised_hands"]],
  ["👐", ["open_hands"]],
  ["🤝", ["handshake"]],
  ["🙏", ["pray"]],
  ["💪", ["muscle"]],
  ["👀", ["eyes"]],
  ["🧠", ["brain"]],
  ["🧡", ["orange_heart"]],
  ["💛", ["yellow_heart"]],
  ["💚", ["green_heart"]],
  ["💙", ["blue_heart"]],
  ["💜", ["purple_heart"]],
  ["🖤", ["black_heart"]],
  ["💔", ["broken_heart"]],
  ["💯", ["100"]],
  ["💥", ["boom", "collision"]],
  ["💫", ["dizzy"]],
  ["💤", ["zzz"]],
  ["💬", ["speech_balloon"]],
  ["🔥", ["fire"]],
  ["✨", ["sparkles"]],
  ["⭐", ["star"]],
  ["🌟", ["star2"]],
  ["⚡", ["zap"]],
  ["☀️", ["sunny"]],
  ["🌈", ["rainbow"]],
  ["☕", ["coffee"]],
  ["🍺", ["beer"]],
  ["🍻", ["beers"]],
  ["🍕", ["pizza"]],
  ["🎂", ["birthday"]],
  ["🎉", ["tada"]],
  ["🎊", ["confetti_ball"]],
  ["🎁", ["gift"]],
  ["🏆", ["trophy"]],
  ["🚀", ["rocket"]],
  ["🚨", ["rotating_light"]],
  ["⏰", ["alarm_clock"]],
  ["⏳", ["hourglass_flowing_sand"]],
  ["📌", ["pushpin"]],
  ["📎", ["paperclip"]],
  ["📝", ["memo", "pencil"]],
  ["📅", ["date"]],
  ["📈", ["chart_with_upwards_trend"]],
  ["📉", ["chart_with_downwards_trend"]],
  ["🔒", ["lock"]],
  ["🔑", ["key"]],
  ["🔔", ["bell"]],
  ["💡", ["bulb"]],
  ["🐛", ["bug"]],
  ["🛠️", ["hammer_and_wrench"]],
  ["⚙️", ["gear"]],
  ["📦", ["package"]],
  ["🚧", ["construction"]],
  ["✅", ["white_check_mark"]],
  ["☑️", ["ballot_box_with_check"]],
  ["✔️", ["heavy_check_mark"]],
  ["❌", ["x"]],
  ["❎", ["negative_squared_cross_mark"]],
  ["⚠️", ["warning"]],
  ["⛔", ["no_entry"]],
  ["🚫", ["no_entry_sign"]],
  ["❓", ["question"]],
  ["❗", ["exclamation", "heavy_exclamation_mark"]],
  ["➕", ["heavy_plus_sign"]],
  ["➖", ["heavy_minus_sign"]],
  ["🆗", ["ok"]],
  ["🆕", ["new"]],
  ["🔴", ["red_circle"]],
  ["🟢", ["large_green_circle"]],
  ["🔵", ["large_blue_circle"]],
  ["⬆️", ["arrow_up"]],
  ["⬇️", ["arrow_down"]],
  ["➡️", ["arrow_right"]],
  ["⬅️", ["arrow_left"]],
  ["🔁", ["repeat"]],
  ["🐶", ["dog"]],
  ["🐱", ["cat"]],
  ["🦄", ["unicorn_face"]],
  ["🐢", ["turtle"]],
  ["🌱", ["seedling"]],
  ["🌍", ["earth_africa"]],
];

const SKIN_TONES: Record<string, string> = { "2": "\u{1F3FB}", "3": "\u{1F3FC}", "4": "\u{1F3FD}", "5": "\u{1F3FE}", "6": "\u{1F3FF}" };
const VARIATION_SELECTOR = "\uFE0F";

const byName = new Map<string, string>(TABLE.flatMap(([emoji, names]) => names.map((name): [string, string] => [name, emoji])));
/** Keyed without the variation selector: Matrix clients send hearts and checks with or without it. */
const byEmoji = new Map<string, string>(TABLE.map(([emoji, names]) => [emoji.replace(VARIATION_SELECTOR, ""), names[0] ?? ""]));
const byTone = new Map<string, string>(Object.entries(SKIN_TONES).map(([n, tone]) => [tone, n]));

/** A Slack reaction / shortcode name (`thumbsup`, `+1::skin-tone-3`) as Unicode, or `:name:` when not in the table. */
export function shortcodeToUnicode(name: string): string {
  const [base = "", tone] = name.split("::skin-tone-");
  const emoji = byName.get(base);
  if (emoji === undefined) return `:${name}:`;
  const toned = tone !== undefined ? SKIN_TONES[tone] : undefined;
  return toned === undefined ? emoji : emoji.replace(VARIATION_SELECTOR, "") + toned;
}

/** A Matrix reaction key as a Slack reaction name, or undefined when Slack has no name for it. */
export function unicodeToShortcode(key: string): string | undefined {
  const custom = /^:([a-z0-9_+'-]+(?:::skin-tone-[2-6])?):$/.exec(key);
  if (custom) return custom[1];
  const bare = key.replace(VARIATION_SELECTOR, "");
  const last = [...bare].at(-1) ?? "";
  const tone = byTone.get(last);
  const name = byEmoji.get(tone === undefined ? bare : bare.slice(0, -last.length));
  if (name === undefined) return undefined;
  return tone === undefined ? name : `${name}::skin-tone-${tone}`;
}

/** A `:name:` shortcode in Slack text (with a skin tone: `:+1::skin-tone-2:`); the name is its group 1. */
export const SHORTCODE = /:([a-z0-9_+'-]+(?:::skin-tone-[2-6])?):/g;

/** `:name:` shortcodes in Slack text replaced by Unicode where the table knows them (custom emoji stay as typed). */
export function replaceShortcodes(text: string): string {
  return text.replace(SHORTCODE, (whole, name: string) => {
    const emoji = shortcodeToUnicode(name);
    return emoji.startsWith(":") ? whole : emoji;
  });
}
