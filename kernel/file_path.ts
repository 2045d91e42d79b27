/**
 * File URLs to paths: the stand-in for `@std/path`'s `fromFileUrl` while JSR
 * cannot be reached.
 * @module
 */

/**
 * The path of a `file:` URL, with its escapes undone (`my%20dir` is `my dir`).
 *
 * @example
 * ```ts
 * import { filePath } from "./file_path.ts";
 * filePath(new URL("file:///tmp/my%20dir/in.txt")); // "/tmp/my dir/in.txt"
 * ```
 */
export function filePath(url: URL): string {
  if (url.protocol !== "file:") throw new TypeError(`not a file URL: ${url.href}`);
  return decodeURIComponent(url.pathname);
}
