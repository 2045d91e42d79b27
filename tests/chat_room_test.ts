/**
 * The chat room's rules, without sockets: nicknames (taken, case, UTF-8,
 * bad characters), `/who`, `/nick`, `/me`, `/quit`, join and leave notices,
 * control characters kept out, and the idle kick on the room's clock.
 * @module
 */
import { assertEquals } from "@std/assert";
import { type Member, Room } from "../servlets/chat/room.ts";

function setup(idleSeconds = 0) {
  let now = 0;
  const room = new Room({ idleSeconds, now: () => now });
  const seen = new Map<string, string[]>();
  const closed = new Set<string>();
  const members = new Map<string, Member>();
  const add = (who: string) => {
    seen.set(who, []);
    const member = room.join({
      send: (line) => seen.get(who)!.push(line),
      close: () => closed.add(who),
    });
    members.set(who, member);
    return member;
  };
  const say = (who: string, line: string) => room.line(members.get(who)!, line);
  const take = (who: string) => seen.get(who)!.splice(0);
  return { room, add, say, take, closed, tick: (s: number) => (now += s * 1000) };
}

Deno.test("chat room: nicknames are unique without regard to case, UTF-8 welcome", () => {
  const { add, say, take } = setup();
  add("a");
  add("b");
  assertEquals(take("a"), ["Welcome to the plumb chat. What is your nickname?"]);
  say("a", "Zoë");
  assertEquals(take("a"), ["* you are Zoë; in the room: Zoë. /who /nick NAME /me ACTION /quit"]);
  take("b");
  say("b", "zoë");
  say("b", "has space");
  say("b", "");
  say("b", "x".repeat(25));
  say("b", "日本語");
  assertEquals(take("b"), [
    'nickname "zoë" is taken; choose another:',
    "a nickname has letters, digits, _ - and . only; choose another:",
    "a nickname cannot be empty; choose another:",
    "a nickname has at most 24 characters; choose another:",
    "* you are 日本語; in the room: Zoë, 日本語. /who /nick NAME /me ACTION /quit",
  ]);
  assertEquals(take("a"), ["* 日本語 has joined"]);
});

Deno.test("chat room: lines, /me, /who, /nick, unknown commands, /quit", () => {
  const { add, say, take, closed, room } = setup();
  add("a");
  add("b");
  say("a", "ann");
  say("b", "bob");
  take("a");
  take("b");
  say("a", "hi \u001b[31mthere\u0007");
  say("b", "/me waves");
  say("b", "/WHO");
  assertEquals(take("a"), ["<ann> hi [31mthere", "* bob waves"]);
  assertEquals(take("b"), ["<ann> hi [31mthere", "* bob waves", "* in the room: ann, bob"]);
  say("a", "/nick BOB");
  say("a", "/nick Ann");
  say("a", "/nick");
  say("a", "/dance");
  assertEquals(take("a"), [
    '* nickname "BOB" is taken; you are still ann',
    "* ann is now known as Ann",
    "* a nickname cannot be empty; you are still Ann",
    "* unknown command /dance; try /who /nick NAME /me ACTION /quit",
  ]);
  take("b");
  say("a", "/quit gotta go");
  assertEquals(take("a"), ["* bye"]);
  assertEquals(take("b"), ["* Ann has left (quit: gotta go)"]);
  assertEquals([...closed], ["a"]);
  assertEquals(room.nicks, ["bob"]);
  // The nickname is free again.
  add("c");
  say("c", "ann");
  assertEquals(
    take("c").at(-1),
    "* you are ann; in the room: ann, bob. /who /nick NAME /me ACTION /quit",
  );
});

Deno.test("chat room: the idle kick, on the room's clock", () => {
  const { add, say, take, closed, tick, room } = setup(60);
  add("a");
  add("b");
  say("a", "ann");
  say("b", "bob");
  tick(50);
  say("b", "still here");
  tick(15);
  assertEquals(room.kickIdle(), 1);
  assertEquals(take("a").at(-1), "* idle for 60 s: disconnected");
  assertEquals(take("b").at(-1), "* ann has left (idle)");
  assertEquals([...closed], ["a"]);
  assertEquals(room.kickIdle(), 0);
  // One who never gave a nickname is kicked too, without a notice.
  add("c");
  tick(61);
  assertEquals(room.kickIdle(), 2);
  assertEquals(take("b").at(-1), "* idle for 60 s: disconnected");
  assertEquals(room.size, 0);
});
