/**
 * The per-source limits' bookkeeping, on a clock the test moves: open
 * connections per address, new connections per second per address, and
 * memory that stays bounded. (tests/limits_test.ts provokes them over TCP.)
 */
import { SourceTable } from "../modules/source_table.ts";
import { assertEquals } from "./assert.ts";

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => t += ms };
}

Deno.test("source table: maxPerSource counts open connections per address", () => {
  const table = new SourceTable({ maxPerSource: 2 });
  assertEquals(table.countsOpen, true);
  assertEquals(table.admit("10.0.0.1"), undefined);
  assertEquals(table.admit("10.0.0.1"), undefined);
  assertEquals(table.admit("10.0.0.1"), "maxPerSource");
  assertEquals(table.admit("10.0.0.2"), undefined, "another address has its own count");
  table.release("10.0.0.1");
  assertEquals(table.admit("10.0.0.1"), undefined, "room again once one closed");
  assertEquals(table.admit("10.0.0.1"), "maxPerSource");
  table.release("10.0.0.1");
  table.release("10.0.0.1");
  table.release("10.0.0.2");
  assertEquals(table.size, 0, "an address with nothing open is forgotten at once");
  table.release("10.0.0.1");
  assertEquals(table.admit("10.0.0.1"), undefined, "an extra release does not go below zero");
});

Deno.test("source table: maxRatePerSource allows a second's burst, then the rate", () => {
  const c = clock();
  const table = new SourceTable({ maxRatePerSource: 3 }, c.now);
  assertEquals(table.countsOpen, false);
  for (let i = 0; i < 3; i++) assertEquals(table.admit("a"), undefined);
  assertEquals(table.admit("a"), "maxRatePerSource");
  assertEquals(table.admit("b"), undefined, "another address has its own rate");
  c.advance(100);
  assertEquals(table.admit("a"), "maxRatePerSource", "0.3 of a connection earned so far");
  c.advance(250);
  assertEquals(table.admit("a"), undefined, "one earned after a third of a second");
  assertEquals(table.admit("a"), "maxRatePerSource");
  c.advance(10_000);
  for (let i = 0; i < 3; i++) {
    assertEquals(table.admit("a"), undefined, "never more than the burst");
  }
  assertEquals(table.admit("a"), "maxRatePerSource");
});

Deno.test("source table: a rate below one per second", () => {
  const c = clock();
  const table = new SourceTable({ maxRatePerSource: 0.5 }, c.now);
  assertEquals(table.admit("a"), undefined);
  c.advance(1500);
  assertEquals(table.admit("a"), "maxRatePerSource");
  c.advance(500);
  assertEquals(table.admit("a"), undefined, "one every two seconds");
});

Deno.test("source table: both limits; a refused connection takes no token", () => {
  const c = clock();
  const table = new SourceTable({ maxPerSource: 1, maxRatePerSource: 2 }, c.now);
  assertEquals(table.admit("a"), undefined);
  assertEquals(table.admit("a"), "maxPerSource");
  assertEquals(table.admit("a"), "maxPerSource");
  table.release("a");
  assertEquals(table.admit("a"), undefined, "the refusals did not use the second token");
  table.release("a");
  assertEquals(table.admit("a"), "maxRatePerSource");
});

Deno.test("source table: idle addresses are forgotten, memory stays bounded", () => {
  const c = clock();
  const table = new SourceTable({ maxRatePerSource: 1 }, c.now, 100);
  for (let i = 0; i < 100; i++) table.admit(`10.0.0.${i}`);
  assertEquals(table.size, 100);
  c.advance(1000);
  table.admit("10.0.1.1");
  assertEquals(table.size, 1, "after a second every earlier bucket is full again: forgotten");

  // A flood of new addresses within one second: never more than the capacity.
  for (let i = 0; i < 1000; i++) table.admit(`2001:db8::${i.toString(16)}`);
  assertEquals(table.size <= 100, true, `${table.size} addresses kept`);

  // Addresses holding connections are never forgotten (their count must stay right).
  const held = new SourceTable({ maxPerSource: 1, maxRatePerSource: 1 }, c.now, 10);
  for (let i = 0; i < 10; i++) held.admit(`h${i}`);
  for (let i = 0; i < 20; i++) held.admit(`n${i}`);
  for (let i = 0; i < 10; i++) assertEquals(held.admit(`h${i}`), "maxPerSource");
});
