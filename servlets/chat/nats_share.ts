/**
 * One chat room across hosts, over NATS (`chat --nats URL --room NAME`):
 * the {@linkcode RoomShare} of a host's room.
 *
 * - Lines: each event of a host's room (a line, `/me`, a join, a leave, a
 *   new nickname) is published on `plumb.chat.ROOM` as a small JSON
 *   message; every other host's room delivers its line to its own members.
 * - Who is in the room: each host keeps the nicknames of the others, from
 *   the events' `joined` and `left`, and from a roll call: a host that
 *   connects (or reconnects) says `hello` with its own members, and every
 *   other host answers with its members.
 * - Nicknames: unique across hosts by NATS KV (bucket `plumb_chat_ROOM`,
 *   key the folded nickname): a nickname is given only once its key is
 *   created, and NATS KV's create is atomic, so two hosts giving one
 *   nickname at the same moment cannot both succeed. A claim is a lease:
 *   the bucket forgets keys after {@linkcode CLAIM_TTL_MS} and each host
 *   renews its members' claims three times as often, so the nicknames of a
 *   host that died free themselves. As often, each host tells the others
 *   who is here, and a host not heard from for a whole lease is forgotten.
 * @module
 */
import type { KV } from "@nats-io/kv";
import type { Msg, Subscription } from "@nats-io/transport-node";
import type { InitEnv } from "../../mod.ts";
import { servletNatsConnect, type ServletNatsLink } from "../nats/_connection.ts";
import type { Claim, RoomEvent, RoomShare } from "./room.ts";

/**
 * The npm package, imported when first needed. Named in a variable, not
 * written in the `import()`, so that Deno does not fetch it as every host
 * starts: a host whose graph uses no NATS never loads it.
 */
const NATS_KV = "@nats-io/kv";

/** How long a claim of a nickname lasts unless renewed, in milliseconds. */
export const CLAIM_TTL_MS = 60_000;

/** What a room's name may be: it names a NATS subject and a KV bucket. */
export const ROOM_NAME: RegExp = /^[A-Za-z0-9_-]{1,32}$/;

/** A message between the hosts of one room. */
type Wire =
  | { from: string; kind: "event"; line: string; joined?: string; left?: string }
  | { from: string; kind: "hello" | "roster"; nicks: string[] }
  | { from: string; kind: "bye" };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The nicknames of a roster message: its strings, whatever else it holds. */
function nicksOf(nicks: unknown): Set<string> {
  return new Set(Array.isArray(nicks) ? nicks.filter((n) => typeof n === "string") : []);
}

/** A folded nickname as a NATS KV key: its UTF-8 bytes in base64url. */
function claimKey(folded: string): string {
  let binary = "";
  for (const byte of encoder.encode(folded)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A room's share over NATS, with what it holds to be closed. */
export interface NatsRoomShare extends RoomShare {
  /** Says goodbye to the other hosts, gives up this host's claims and closes the connection. */
  close(): Promise<void>;
}

/**
 * Connects the room `room` of this host to the same room on the other hosts
 * of the NATS servers `servers`.
 *
 * @param deliver gives a line from another host to this host's members
 * @param localNicks this host's members' nicknames, for the roll call
 */
export async function natsShare(
  servers: string,
  room: string,
  env: InitEnv,
  deliver: (line: string) => void,
  localNicks: () => string[],
): Promise<NatsRoomShare> {
  const link: ServletNatsLink = await servletNatsConnect(servers, "chat", env);
  const { Kvm } = await import(NATS_KV) as typeof import("@nats-io/kv");
  let kv: KV;
  try {
    kv = await new Kvm(link.nc).create(`plumb_chat_${room}`, { history: 1, ttl: CLAIM_TTL_MS });
  } catch (error) {
    await link.close();
    throw error;
  }
  const me = crypto.randomUUID().slice(0, 8);
  const subject = `plumb.chat.${room}`;
  /** The other hosts' members, by host. */
  const rosters = new Map<string, Set<string>>();
  /** When each other host was last heard from (`Date.now()`). */
  const heard = new Map<string, number>();
  /** This host's claims: the folded nickname and the revision of its key. */
  const claims = new Map<string, number>();
  let closed = false;

  // While the server is away nothing is published: what is said meanwhile stays on this host
  // (the client would otherwise send it late, out of its time), and the roll call on return
  // tells the other hosts who is here.
  const publish = (wire: Wire): void => {
    if (closed || !link.connected) return;
    try {
      link.nc.publish(subject, encoder.encode(JSON.stringify(wire)));
    } catch {
      // Closed under us: the room goes on locally.
    }
  };
  const rosterOf = (host: string): Set<string> => {
    let roster = rosters.get(host);
    if (roster === undefined) rosters.set(host, roster = new Set());
    return roster;
  };
  const receive = (msg: Msg): void => {
    let wire: Wire;
    try {
      wire = JSON.parse(decoder.decode(msg.data)) as Wire;
    } catch {
      return; // not one of ours
    }
    // Anyone may publish on the subject: what is not a message of a room is dropped.
    if (typeof wire !== "object" || wire === null || typeof wire.from !== "string") return;
    if (wire.from === me) return;
    heard.set(wire.from, Date.now());
    switch (wire.kind) {
      case "event": {
        const roster = rosterOf(wire.from);
        if (typeof wire.left === "string") roster.delete(wire.left);
        if (typeof wire.joined === "string") roster.add(wire.joined);
        if (typeof wire.line === "string") deliver(wire.line);
        return;
      }
      case "hello":
        rosters.set(wire.from, nicksOf(wire.nicks));
        publish({ from: me, kind: "roster", nicks: localNicks() });
        return;
      case "roster":
        rosters.set(wire.from, nicksOf(wire.nicks));
        return;
      case "bye":
        rosters.delete(wire.from);
        heard.delete(wire.from);
        return;
    }
  };
  const subscription: Subscription = link.nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error === null) receive(msg);
    },
  });
  await link.nc.flush();
  publish({ from: me, kind: "hello", nicks: localNicks() });

  /** Renews this host's claims: its own revision, or claims it afresh if the key is gone. */
  const renew = async (): Promise<void> => {
    if (!link.connected) return;
    for (const [folded, revision] of [...claims]) {
      try {
        claims.set(folded, await kv.update(claimKey(folded), me, revision));
      } catch {
        try {
          claims.set(folded, await kv.create(claimKey(folded), me));
        } catch {
          // Another host holds it now (this host was away past the lease): both keep it.
        }
      }
    }
  };
  /**
   * Every third of the lease: renews the claims, tells the others who is
   * here, and forgets the members of a host not heard from for a whole lease
   * (it died without saying goodbye).
   */
  const tick = (): void => {
    void renew();
    publish({ from: me, kind: "roster", nicks: localNicks() });
    const before = Date.now() - CLAIM_TTL_MS;
    for (const [host, at] of heard) {
      if (at < before) {
        heard.delete(host);
        rosters.delete(host);
      }
    }
  };
  const renewal = setInterval(tick, CLAIM_TTL_MS / 3);
  link.onReconnect(() => {
    // Who left while this host was away is not known: ask again.
    rosters.clear();
    heard.clear();
    publish({ from: me, kind: "hello", nicks: localNicks() });
    void renew();
  });

  return {
    async claim(folded: string): Promise<Claim> {
      if (!link.connected) return "unreachable";
      try {
        claims.set(folded, await kv.create(claimKey(folded), me));
        return "claimed";
      } catch (error) {
        return /wrong last sequence|key exists/i.test((error as Error).message)
          ? "taken"
          : "unreachable";
      }
    },
    release(folded: string): void {
      const revision = claims.get(folded);
      if (revision === undefined) return;
      claims.delete(folded);
      // Only this host's own claim, at the revision it made: never another host's.
      kv.delete(claimKey(folded), { previousSeq: revision }).catch(() => {});
    },
    send(event: RoomEvent): void {
      publish({ from: me, kind: "event", ...event });
    },
    *remote(): Iterable<string> {
      for (const roster of rosters.values()) yield* roster;
    },
    async close(): Promise<void> {
      clearInterval(renewal);
      publish({ from: me, kind: "bye" });
      closed = true;
      await Promise.all(
        [...claims].map(([folded, revision]) =>
          kv.delete(claimKey(folded), { previousSeq: revision }).catch(() => {})
        ),
      );
      claims.clear();
      subscription.unsubscribe();
      await link.close();
    },
  };
}
