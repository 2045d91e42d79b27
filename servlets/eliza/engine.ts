/**
 * The ELIZA engine: matches an input against a script and picks the reply.
 * No randomness: each decomposition's replies are used in turn, so a session
 * is reproducible. All that a conversation changes lives in an
 * {@linkcode ElizaSession}, one per conversation.
 * @module
 */
import type { Decomposition, ElizaScript } from "./script.ts";

/** What one conversation remembers. */
export interface ElizaSession {
  /** Next reply to use, per decomposition (`keyword/index`). */
  readonly cursors: Map<string, number>;
  /** Replies kept by memory decompositions, oldest first. */
  readonly memory: string[];
  /** Next fallback to use. */
  fallback: number;
  /** Next farewell to use. */
  farewell: number;
}

/** A reply, and whether the session ends with it. */
export interface ElizaReply {
  /** The line to say, without end of line. */
  text: string;
  /** True for a quit word: the session ends after this reply. */
  quit: boolean;
}

interface CompiledRule {
  id: string;
  tokens: string[];
  rule: Decomposition;
}

interface CompiledKeyword {
  word: string;
  rank: number;
  rules: CompiledRule[];
}

/** A keyword found in an input, with the words of its clause. */
interface Found {
  keyword: CompiledKeyword;
  clause: string[];
}

/** Most replies a session keeps in its memory. */
const MEMORY_LIMIT = 20;
/** Most `goto` hops one reply may take (a script with a goto cycle stops here). */
const MAX_GOTO = 10;

/** Most characters of an input that are read; the rest is ignored (a reply stays cheap). */
const MAX_INPUT_CHARS = 1000;
/** Most words of one clause that patterns are matched against. */
const MAX_CLAUSE_WORDS = 40;

function words(text: string): string[] {
  return text.toLowerCase()
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/[^a-z0-9'\u00c0-\uffff]+/g, " ")
    .trim()
    .split(" ")
    .filter((w) => w !== "");
}

/** A running ELIZA: a compiled script. Sessions hold all per-conversation state. */
export class Eliza {
  readonly #script: ElizaScript;
  readonly #keywords = new Map<string, CompiledKeyword>();
  readonly #groups = new Map<string, Set<string>>();
  readonly #quit: Set<string>;
  #greeting = 0;

  /**
   * Compiles a script.
   * @throws {Error} when a `goto` names no keyword or a pattern names no synonym group
   */
  constructor(script: ElizaScript) {
    this.#script = script;
    this.#quit = new Set(script.quit.map((q) => words(q).join(" ")));
    for (const [name, members] of Object.entries(script.synonyms)) {
      this.#groups.set(name, new Set([name, ...members.map((m) => m.toLowerCase())]));
    }
    for (const keyword of script.keywords) {
      const word = keyword.word.toLowerCase();
      this.#keywords.set(word, {
        word,
        rank: keyword.rank ?? 0,
        rules: keyword.decompositions.map((rule, i) => ({
          id: `${word}/${i}`,
          tokens: rule.pattern.toLowerCase().split(/\s+/).filter((t) => t !== ""),
          rule,
        })),
      });
    }
    for (const keyword of this.#keywords.values()) {
      for (const { rule, tokens } of keyword.rules) {
        for (const token of tokens) {
          if (token.startsWith("@") && !this.#groups.has(token.slice(1))) {
            throw new Error(
              `keyword "${keyword.word}": pattern "${rule.pattern}" names no synonym group ${token}`,
            );
          }
        }
        for (const reply of rule.replies) {
          const target = reply.match(/^goto\s+(\S+)$/)?.[1];
          if (target !== undefined && !this.#keywords.has(target.toLowerCase())) {
            throw new Error(`keyword "${keyword.word}": "${reply}" names no keyword`);
          }
        }
      }
    }
  }

  /** A new conversation. */
  newSession(): ElizaSession {
    return { cursors: new Map(), memory: [], fallback: 0, farewell: 0 };
  }

  /** The line a conversation starts with: the script's greetings in turn, across sessions. */
  greeting(): string {
    const greetings = this.#script.greetings;
    return greetings[this.#greeting++ % Math.max(1, greetings.length)] ?? "";
  }

  /** The reply to one line of input. */
  respond(session: ElizaSession, input: string): ElizaReply {
    input = input.slice(0, MAX_INPUT_CHARS);
    const all = this.#substitute(words(input));
    if (this.#quit.has(all.join(" "))) {
      const farewells = this.#script.farewells;
      const text = farewells[session.farewell++ % Math.max(1, farewells.length)] ?? "Goodbye.";
      return { text, quit: true };
    }
    const found = this.#keywordsIn(input);
    this.#remember(session, found);
    for (const { keyword, clause } of found) {
      const reply = this.#apply(session, keyword, clause, 0);
      if (reply !== undefined) return { text: reply, quit: false };
    }
    const remembered = session.memory.shift();
    if (remembered !== undefined) return { text: remembered, quit: false };
    const fallbacks = this.#script.fallbacks;
    return {
      text: fallbacks[session.fallback++ % Math.max(1, fallbacks.length)] ?? "",
      quit: false,
    };
  }

  #substitute(input: string[]): string[] {
    return input.flatMap((w) => {
      const pre = this.#script.pre;
      // Own words only: a client's "constructor" is not Object's.
      const replaced = Object.hasOwn(pre, w) ? pre[w] : undefined;
      return replaced === undefined ? [w] : words(replaced);
    });
  }

  /**
   * The keywords of an input, each with the clause (split at punctuation) it
   * stands in: highest rank first, equal ranks in the order they came.
   */
  #keywordsIn(input: string): Found[] {
    const found: Found[] = [];
    for (const text of input.split(/[.,;:!?]+/)) {
      const clause = this.#substitute(words(text)).slice(0, MAX_CLAUSE_WORDS);
      for (const w of clause) {
        const keyword = this.#keywords.get(w);
        if (keyword !== undefined && !found.some((f) => f.keyword === keyword)) {
          found.push({ keyword, clause });
        }
      }
    }
    return found.sort((a, b) => b.keyword.rank - a.keyword.rank);
  }

  #remember(session: ElizaSession, found: Found[]): void {
    for (const { keyword, clause } of found) {
      for (const compiled of keyword.rules) {
        if (!compiled.rule.memory) continue;
        const parts = this.#match(compiled.tokens, clause);
        if (parts === undefined) continue;
        const reply = this.#next(session, compiled);
        // "My." leaves nothing to remember: "Let's discuss further why your." helps no one.
        const referenced = [...reply.matchAll(/\((\d+)\)/g)].map((m) => parts[Number(m[1]) - 1]);
        if (referenced.some((part) => part === undefined || part.length === 0)) return;
        session.memory.push(this.#assemble(reply, parts));
        if (session.memory.length > MEMORY_LIMIT) session.memory.shift();
        return;
      }
    }
  }

  #apply(
    session: ElizaSession,
    keyword: CompiledKeyword,
    input: string[],
    hops: number,
  ): string | undefined {
    for (const compiled of keyword.rules) {
      if (compiled.rule.memory) continue;
      const parts = this.#match(compiled.tokens, input);
      if (parts === undefined) continue;
      const reply = this.#next(session, compiled);
      const target = reply.match(/^goto\s+(\S+)$/)?.[1];
      if (target === undefined) return this.#assemble(reply, parts);
      if (hops >= MAX_GOTO) return undefined;
      return this.#apply(session, this.#keywords.get(target.toLowerCase())!, input, hops + 1);
    }
    return undefined;
  }

  #next(session: ElizaSession, compiled: CompiledRule): string {
    const replies = compiled.rule.replies;
    const i = session.cursors.get(compiled.id) ?? 0;
    session.cursors.set(compiled.id, (i + 1) % replies.length);
    return replies[i];
  }

  /**
   * Matches pattern tokens against words; the parts matched by `*` and
   * `@group`, or undefined. A `*` takes as few words as it can.
   */
  #match(tokens: string[], input: string[]): string[][] | undefined {
    const bounds: number[] = []; // start and end of each part, in pairs
    const go = (t: number, w: number): boolean => {
      if (t === tokens.length) return w === input.length;
      const token = tokens[t];
      if (token === "*") {
        // When a plain word follows, only the places where it stands can end this part.
        const next = tokens[t + 1];
        const literal = next !== undefined && next !== "*" && !next.startsWith("@");
        for (let end = w; end <= input.length; end++) {
          if (literal && end < input.length && input[end] !== next) continue;
          bounds.push(w, end);
          if (go(t + 1, end)) return true;
          bounds.length -= 2;
        }
        return false;
      }
      if (w === input.length) return false;
      if (token.startsWith("@")) {
        if (!this.#groups.get(token.slice(1))!.has(input[w])) return false;
        bounds.push(w, w + 1);
        if (go(t + 1, w + 1)) return true;
        bounds.length -= 2;
        return false;
      }
      return token === input[w] && go(t + 1, w + 1);
    };
    if (!go(0, 0)) return undefined;
    const parts: string[][] = [];
    for (let i = 0; i < bounds.length; i += 2) parts.push(input.slice(bounds[i], bounds[i + 1]));
    return parts;
  }

  #assemble(reply: string, parts: string[][]): string {
    return reply
      .replace(/\((\d+)\)/g, (_, n: string) => {
        const part = parts[Number(n) - 1] ?? [];
        const post = this.#script.post;
        return part.map((w) => Object.hasOwn(post, w) ? post[w] : w).join(" ");
      })
      .replace(/ +([?.!,])/g, "$1")
      .replace(/ {2,}/g, " ");
  }
}
