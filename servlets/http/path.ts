/**
 * The one path of a request: `http/parser` normalises the target's path once
 * ({@linkcode normalizePath}), and `http/router` matches and `http/static`
 * serves that same string, so that a rule on `/private/*` covers
 * `/%70rivate/x` and `//private/x` as well. {@linkcode encodePath} writes a
 * normalised path back for a `Location` field.
 * @module
 */

const PERCENT = 0x25;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The value of one hex digit's character code, or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** True when the text holds a control character (C0 or DEL). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** One segment, percent-decoded as UTF-8; throws a `URIError` saying what is wrong. */
function decodeSegment(raw: string): string {
  if (!raw.includes("%")) return raw;
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) throw new URIError("invalid percent-encoding in path");
      bytes[n++] = hi * 16 + lo;
      i += 2;
    } else if (c < 0x80) bytes[n++] = c;
    else throw new URIError("non-ASCII character in path"); // the parser lets none through
  }
  let text: string;
  try {
    text = utf8.decode(bytes.subarray(0, n));
  } catch {
    throw new URIError("path is not UTF-8 once decoded");
  }
  if (text.includes("/")) throw new URIError('encoded "/" in path');
  return text;
}

/**
 * A request target's path, normalised: percent-decoded (as UTF-8), `.` and
 * `..` segments resolved (RFC 3986 5.2.4) after decoding, so that `%2e%2e`
 * is `..` too, and empty segments dropped (`//a` is `/a`). A trailing `/`
 * is kept (`/a/` and `/a/.` are `/a/`). A path with no `%`, `//` or `/.` is
 * returned as it is.
 *
 * @param raw the path as sent, starting with `/`, without query or fragment
 * @returns the normalised path, starting with `/`
 * @throws {URIError} for invalid percent-encoding, bytes that are not UTF-8,
 *   an encoded `/` (`%2F`), a control character once decoded (`%00`,
 *   `%0A`), or a `..` above the root: one short phrase saying which
 *
 * @example
 * ```ts
 * import { normalizePath } from "./path.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(normalizePath("/%70rivate//secret.txt"), "/private/secret.txt");
 * assertEquals(normalizePath("/a/b/%2e%2e/c/"), "/a/c/");
 * assertEquals(normalizePath("/caf%C3%A9"), "/café");
 * assertThrows(() => normalizePath("/../etc/passwd"), URIError, "above the root");
 * assertThrows(() => normalizePath("/a%2Fb"), URIError, 'encoded "/"');
 * ```
 */
export function normalizePath(raw: string): string {
  if (!raw.includes("%") && !raw.includes("//") && !raw.includes("/.")) {
    if (hasControl(raw)) throw new URIError("control character in path");
    return raw;
  }
  const segments: string[] = [];
  const parts = raw.split("/");
  let trailing = false;
  for (let i = 1; i < parts.length; i++) {
    const segment = decodeSegment(parts[i]);
    const last = i === parts.length - 1;
    if (segment === "" || segment === ".") {
      trailing = last;
      continue;
    }
    if (segment === "..") {
      if (segments.length === 0) throw new URIError("path goes above the root");
      segments.pop();
      trailing = last;
      continue;
    }
    if (hasControl(segment)) throw new URIError("control character in path");
    segments.push(segment);
    trailing = false;
  }
  if (segments.length === 0) return "/";
  return `/${segments.join("/")}${trailing ? "/" : ""}`;
}

/**
 * A normalised path percent-encoded again, segment by segment, for a
 * `Location` field: it starts with one `/` followed by a segment, never with
 * `//` or `/\` (which a browser would take for another host), whatever the
 * path holds.
 *
 * @example
 * ```ts
 * import { encodePath } from "./path.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(encodePath("/images/a b/"), "/images/a%20b/");
 * assertEquals(encodePath("//evil.example/x"), "/evil.example/x");
 * assertEquals(encodePath("/\\evil.example"), "/%5Cevil.example");
 * ```
 */
export function encodePath(path: string): string {
  const segments = path.split("/").filter((segment) => segment !== "");
  const trailing = path.endsWith("/") && segments.length > 0;
  return `/${segments.map(encodeURIComponent).join("/")}${trailing ? "/" : ""}`;
}
