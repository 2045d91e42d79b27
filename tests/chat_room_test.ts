/**
 * The chat room's rules, without sockets: nicknames (taken, case, UTF-8,
 * bad characters), `/who`, `/nick`, `/me`, `/quit`, join and leave notices,
 * control characters kept out, and the idle kick on the room's clock.
 * @module
 */
import { assertEquals } from "@std/assert";
import { type Member, Room, type RoomShare } from "../servlets/chat/room.ts";

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

/**
 * Two rooms joined as `chat --nats` joins them, with an in-memory bus in
 * place of NATS: events go to the other room, claims are one shared map,
 * and `reachable` false makes every claim unreachable.
 */
function sharedRooms() {
  const claims = new Map<string, string>();
  const rooms: Room[] = [];
  const rosters = [new Set<string>(), new Set<string>()];
  const state = { reachable: true };
  const shareOf = (i: number): RoomShare => ({
    claim: (folded) => {
      if (!state.reachable) return Promise.resolve("unreachable");
      if (claims.has(folded)) return Promise.resolve("taken");
      claims.set(folded, `room ${i}`);
      return Promise.resolve("claimed");
    },
    release: (folded) => void claims.delete(folded),
    send: (event) => {
      const roster = rosters[1 - i];
      if (event.left) roster.delete(event.left);
      if (event.joined) roster.add(event.joined);
      rooms[1 - i].deliver(event.line);
    },
    remote: () => rosters[i],
  });
  rooms.push(new Room({ idleSeconds: 0, share: shareOf(0) }));
  rooms.push(new Room({ idleSeconds: 0, share: shareOf(1) }));
  const seen = new Map<string, string[]>();
  const members = new Map<string, Member>();
  const add = (who: string, room: number) => {
    seen.set(who, []);
    members.set(
      who,
      rooms[room].join({ send: (line) => seen.get(who)!.push(line), close() {} }),
    );
    seen.get(who)!.length = 0;
  };
  const sayIn = async (who: string, room: number, line: string) =>
    await rooms[room].line(members.get(who)!, line);
  const take = (who: string) => seen.get(who)!.splice(0);
  return { claims, state, add, sayIn, take };
}

Deno.test("chat room: shared with another host's room: lines, /who, nicknames unique across both", async () => {
  const { claims, state, add, sayIn, take } = sharedRooms();
  add("a", 0);
  add("b", 1);
  await sayIn("a", 0, "ann");
  await sayIn("b", 1, "Ann");
  assertEquals(take("b"), ['nickname "Ann" is taken; choose another:']);
  await sayIn("b", 1, "bob");
  assertEquals(take("b"), [
    "* you are bob; in the room: ann, bob. /who /nick NAME /me ACTION /quit",
  ]);
  assertEquals(take("a"), [
    "* you are ann; in the room: ann. /who /nick NAME /me ACTION /quit",
    "* bob has joined",
  ]);
  await sayIn("a", 0, "/me waves");
  assertEquals(take("b"), ["* ann waves"]);
  await sayIn("b", 1, "/nick ANN");
  assertEquals(take("b"), ['* nickname "ANN" is taken; you are still bob']);
  await sayIn("b", 1, "/nick Bob");
  assertEquals(take("a"), ["* ann waves", "* bob is now known as Bob"]);
  assertEquals([...claims.keys()].sort(), ["ann", "bob"]);
  await sayIn("b", 1, "/nick bea");
  assertEquals([...claims.keys()].sort(), ["ann", "bea"]);
  await sayIn("a", 0, "/who");
  assertEquals(take("a"), ["* Bob is now known as bea", "* in the room: ann, bea"]);
  state.reachable = false;
  add("c", 0);
  await sayIn("c", 0, "cat");
  assertEquals(take("c"), [
    'nickname "cat" cannot be checked with the other hosts now; choose another:',
  ]);
  await sayIn("b", 1, "/quit");
  assertEquals(take("a"), ["* bea has left (quit)"]);
  assertEquals([...claims.keys()], ["ann"]);
});
