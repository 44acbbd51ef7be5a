/**
 * Whether a URL host must not be fetched by URL previews: loopback, private, link-local, shared, multicast and
 * reserved addresses (IPv4, IPv6 and IPv4-mapped IPv6), and names that only mean something on a local network.
 * The WHATWG URL parser has already turned odd IPv4 spellings (`2130706433`, `0x7f.1`) into dotted quads.
 * Names are not resolved here (a Worker cannot); on Cloudflare a Worker's fetch cannot reach private networks.
 */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[") && host.endsWith("]")) return isPrivateIpv6(host.slice(1, -1));
  const v4 = parseIpv4(host);
  if (v4) return isPrivateIpv4(v4);
  if (!host.includes(".")) return true;
  return /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa|localdomain)$/.test(host);
}

function parseIpv4(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.map(Number);
}

function isPrivateIpv4([a = 0, b = 0, c = 0]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 0 && c === 0) ||
    (a === 192 && b === 0 && c === 2) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113) ||
    a >= 224
  );
}

function isPrivateIpv6(address: string): boolean {
  const words = expandIpv6(address);
  if (!words) return true;
  const [w0 = 0, , , , , w5 = 0, w6 = 0, w7 = 0] = words;
  if (words.slice(0, 7).every((w) => w === 0)) return true; // :: and ::1
  if (words.slice(0, 5).every((w) => w === 0) && w5 === 0xffff) return isPrivateIpv4([w6 >> 8, w6 & 255, w7 >> 8, w7 & 255]);
  if (w0 === 0x64 && words[1] === 0xff9b) return isPrivateIpv4([w6 >> 8, w6 & 255, w7 >> 8, w7 & 255]);
  return (w0 & 0xfe00) === 0xfc00 || (w0 & 0xffc0) === 0xfe80 || (w0 & 0xff00) === 0xff00 || w0 === 0x2001 && words[1] === 0xdb8;
}

/** Eight 16-bit words of an IPv6 address (as the URL parser prints it: hex words, `::`, no embedded IPv4). */
function expandIpv6(address: string): number[] | null {
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((w) => (/^[0-9a-f]{1,4}$/.test(w) ? parseInt(w, 16) : NaN)));
  const head = parse(halves[0] ?? "");
  const tail = halves.length === 2 ? parse(halves[1] ?? "") : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return words.some(Number.isNaN) ? null : words;
}
