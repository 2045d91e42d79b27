/**
 * The chat room's rules, apart from any socket: who is in the room, what a
 * line from each of them does (the first one is a nickname, then `/who`,
 * `/nick NAME`, `/me ACTION`, `/quit`, or text for everyone), the join and
 * leave notices, and the idle kick. Each member is reached through a
 * {@linkcode MemberLink} (a TCP connection, a WebSocket), so one room holds
 * telnet and browser users alike.
 * @module
 */

/** How the room reaches one member. */
export interface MemberLink {
  /** Sends one line (without its newline) to the member. */
  send(line: string): void;
  /** Ends the member's connection, once what was sent before is written. */
  close(): void;
}

/** What a member's line makes the other hosts' members see, and who joined or left with it. */
export interface RoomEvent {
  /** The line, as this host's members see it (`<ann> hi`, `* ann has joined`). */
  readonly line: string;
  /** The nickname that came into the room with this line. */
  readonly joined?: string;
  /** The nickname that went out of the room with this line. */
  readonly left?: string;
}

/** What a claim of a nickname across hosts came to. */
export type Claim = "claimed" | "taken" | "unreachable";

/**
 * The same room on other hosts (`chat --nats`): the room tells it each
 * event, asks it for a nickname before giving it, and shows its members in
 * `/who`. The room stays usable by its own members when the share cannot
 * reach the others; only new nicknames wait for it.
 */
export interface RoomShare {
  /** Claims the nickname (in its folded form) for a member of this host, atomically across hosts. */
  claim(folded: string): Promise<Claim>;
  /** Gives up a claim (the member left or took another nickname). */
  release(folded: string): void;
  /** Tells the other hosts of an event of this room. */
  send(event: RoomEvent): void;
  /** The nicknames of the members on other hosts, as last heard. */
  remote(): Iterable<string>;
}

/** The room's settings. */
export interface RoomOptions {
  /** Seconds a member may stay silent before being kicked; 0 for never. */
  idleSeconds: number;
  /** The longest nickname, in characters. Default 24. */
  maxNickLength?: number;
  /** The clock, in milliseconds (tests give their own). Default `Date.now`. */
  now?: () => number;
  /** The same room on other hosts; absent, the room is this host's alone. */
  share?: RoomShare;
}

/** One member's place in the room. */
export class Member {
  /** The nickname, once the member has chosen one (else `null`: the next line is one). */
  nick: string | null = null;
  /** When the member last sent a line, by the room's clock. */
  lastActive: number;
  /** True once the member has left (quit, kicked, or the connection closed). */
  gone = false;
  readonly link: MemberLink;
  constructor(link: MemberLink, now: number) {
    this.link = link;
    this.lastActive = now;
  }
}

/** Characters kept out of what others see: C0 and C1 controls (terminal escapes) but the tab. */
// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/** The greeting a new member gets before typing. */
export const GREETING = "Welcome to the plumb chat. What is your nickname?";

/**
 * A chat room.
 *
 * @example
 * ```ts
 * import { Room } from "./room.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const room = new Room({ idleSeconds: 0 });
 * const seen: Record<string, string[]> = { a: [], b: [] };
 * const a = room.join({ send: (line) => seen.a.push(line), close() {} });
 * const b = room.join({ send: (line) => seen.b.push(line), close() {} });
 * room.line(a, "ann");
 * room.line(b, "ann");
 * room.line(b, "bob");
 * room.line(a, "hello");
 * assertEquals(seen.b.slice(1), [
 *   'nickname "ann" is taken; choose another:',
 *   "* you are bob; in the room: ann, bob. /who /nick NAME /me ACTION /quit",
 *   "<ann> hello",
 * ]);
 * ```
 */
export class Room {
  readonly #members = new Set<Member>();
  /** Members with a nickname, by its folded form. */
  readonly #byNick = new Map<string, Member>();
  readonly #idleMs: number;
  readonly #maxNick: number;
  readonly #now: () => number;
  readonly #share: RoomShare | undefined;

  constructor(options: RoomOptions) {
    this.#idleMs = options.idleSeconds * 1000;
    this.#maxNick = options.maxNickLength ?? 24;
    this.#now = options.now ?? Date.now;
    this.#share = options.share;
  }

  /** Nicknames in the room, on this host and the others, sorted. */
  get nicks(): string[] {
    const all = new Set(this.localNicks);
    for (const nick of this.#share?.remote() ?? []) all.add(nick);
    return [...all].sort();
  }

  /** Nicknames of this host's members, sorted. */
  get localNicks(): string[] {
    return [...this.#byNick.values()].map((m) => m.nick!).sort();
  }

  /** Members connected, with a nickname or not yet. */
  get size(): number {
    return this.#members.size;
  }

  /** A new member: greeted and asked for a nickname. */
  join(link: MemberLink): Member {
    const member = new Member(link, this.#now());
    this.#members.add(member);
    link.send(GREETING);
    return member;
  }

  /** Why `nick` cannot be `self`'s nickname, or `null` when it can. */
  nickProblem(nick: string, self?: Member): string | null {
    if (nick === "") return "a nickname cannot be empty";
    if ([...nick].length > this.#maxNick) {
      return `a nickname has at most ${this.#maxNick} characters`;
    }
    if (!/^[\p{L}\p{N}_\-.]+$/u.test(nick)) {
      return "a nickname has letters, digits, _ - and . only";
    }
    const folded = fold(nick);
    const owner = this.#byNick.get(folded);
    if (owner !== undefined && owner !== self) return `nickname "${nick}" is taken`;
    for (const remote of this.#share?.remote() ?? []) {
      if (fold(remote) === folded) return `nickname "${nick}" is taken`;
    }
    return null;
  }

  /** Sends `line` to every member with a nickname, here and on the other hosts. */
  broadcast(line: string, event: Omit<RoomEvent, "line"> = {}): void {
    this.deliver(line);
    this.#share?.send({ line, ...event });
  }

  /** Sends `line` to every member with a nickname on this host (a line from another host). */
  deliver(line: string): void {
    for (const member of this.#byNick.values()) member.link.send(line);
  }

  /**
   * Claims `nick` across hosts, then runs `then`; tells the member why not
   * (in the words of `refusal`) when it cannot be had.
   */
  async #claim(
    member: Member,
    nick: string,
    refusal: (why: string) => string,
    then: () => void,
  ): Promise<void> {
    const share = this.#share!;
    const folded = fold(nick);
    const claim = await share.claim(folded);
    if (member.gone) {
      if (claim === "claimed") share.release(folded);
      return;
    }
    if (claim === "claimed") {
      then();
      return;
    }
    const why = claim === "taken"
      ? `nickname "${nick}" is taken`
      : `nickname "${nick}" cannot be checked with the other hosts now`;
    member.link.send(refusal(why));
  }

  /** `member` takes `nick` as its first nickname: welcomed, and the others told. */
  #enter(member: Member, nick: string): void {
    member.nick = nick;
    this.#byNick.set(fold(nick), member);
    member.link.send(
      `* you are ${nick}; in the room: ${this.nicks.join(", ")}. /who /nick NAME /me ACTION /quit`,
    );
    for (const other of this.#byNick.values()) {
      if (other !== member) other.link.send(`* ${nick} has joined`);
    }
    this.#share?.send({ line: `* ${nick} has joined`, joined: nick });
  }

  /** `member` is known as `nick` from now on. */
  #rename(member: Member, nick: string): void {
    const old = member.nick!;
    this.#byNick.delete(fold(old));
    member.nick = nick;
    this.#byNick.set(fold(nick), member);
    if (fold(old) !== fold(nick)) this.#share?.release(fold(old));
    this.broadcast(`* ${old} is now known as ${nick}`, { joined: nick, left: old });
  }

  /**
   * Handles one line from `member`. A nickname to claim across hosts
   * (`share`) makes it asynchronous: the caller waits for it before handling
   * the member's next line.
   */
  line(member: Member, raw: string): void | Promise<void> {
    if (member.gone) return;
    member.lastActive = this.#now();
    const text = raw.normalize("NFC").replace(CONTROLS, "").trim();
    if (member.nick === null) {
      const problem = this.nickProblem(text);
      if (problem !== null) {
        member.link.send(`${problem}; choose another:`);
        return;
      }
      if (this.#share === undefined) return this.#enter(member, text);
      return this.#claim(
        member,
        text,
        (why) => `${why}; choose another:`,
        () => this.#enter(member, text),
      );
    }
    if (text === "") return;
    if (!text.startsWith("/")) {
      this.broadcast(`<${member.nick}> ${text}`);
      return;
    }
    const space = text.indexOf(" ");
    const command = (space < 0 ? text : text.slice(0, space)).toLowerCase();
    const rest = space < 0 ? "" : text.slice(space + 1).trim();
    switch (command) {
      case "/who":
        member.link.send(`* in the room: ${this.nicks.join(", ")}`);
        return;
      case "/me":
        if (rest === "") member.link.send("* /me ACTION: say what you do");
        else this.broadcast(`* ${member.nick} ${rest}`);
        return;
      case "/nick": {
        const problem = this.nickProblem(rest, member);
        if (problem !== null) {
          member.link.send(`* ${problem}; you are still ${member.nick}`);
          return;
        }
        if (this.#share === undefined || fold(rest) === fold(member.nick)) {
          return this.#rename(member, rest);
        }
        return this.#claim(
          member,
          rest,
          (why) => `* ${why}; you are still ${member.nick}`,
          () => this.#rename(member, rest),
        );
      }
      case "/quit":
        member.link.send("* bye");
        this.leave(member, rest === "" ? "quit" : `quit: ${rest}`);
        member.link.close();
        return;
      default:
        member.link.send(`* unknown command ${command}; try /who /nick NAME /me ACTION /quit`);
    }
  }

  /** `member` leaves (its connection closed, it quit, it was kicked): the others are told. */
  leave(member: Member, why: string): void {
    if (member.gone) return;
    member.gone = true;
    this.#members.delete(member);
    if (member.nick === null) return;
    this.#byNick.delete(fold(member.nick));
    this.#share?.release(fold(member.nick));
    this.broadcast(`* ${member.nick} has left (${why})`, { left: member.nick });
  }

  /** Kicks the members silent for longer than the idle time; returns how many. */
  kickIdle(): number {
    if (this.#idleMs <= 0) return 0;
    const now = this.#now();
    let kicked = 0;
    for (const member of [...this.#members]) {
      if (now - member.lastActive < this.#idleMs) continue;
      member.link.send(`* idle for ${this.#idleMs / 1000} s: disconnected`);
      this.leave(member, "idle");
      member.link.close();
      kicked++;
    }
    return kicked;
  }
}

/** The form two nicknames are compared in: `Ann` and `ann` are one. */
function fold(nick: string): string {
  return nick.normalize("NFC").toLowerCase();
}
