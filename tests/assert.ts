/**
 * The assertions the tests use, in one place: `node:assert/strict` stands in
 * for `@std/assert` while JSR cannot be reached.
 * @module
 */
export {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  ok as assert,
  rejects as assertRejects,
  strictEqual as assertStrictEquals,
  throws as assertThrows,
} from "node:assert/strict";
