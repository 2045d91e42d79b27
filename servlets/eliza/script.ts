/**
 * The shape of an ELIZA script: keywords with ranks, decomposition patterns
 * with reassembly rules, pre- and post-substitutions, synonym groups, and the
 * lines said at the start, at the end and when nothing matches. A script is
 * plain data, so it can be written as JSON and given to the `eliza` servlet.
 * @module
 */

/** One decomposition pattern of a keyword and the replies it may give. */
export interface Decomposition {
  /**
   * The pattern, word by word: `*` matches any number of words (maybe none),
   * `@group` matches one word of a synonym group, any other word matches
   * itself. For example `* i am *` or `* @family *`.
   */
  pattern: string;
  /**
   * Replies, used in turn (the first, then the second, ... then the first
   * again). `(n)` stands for what the n-th `*` or `@group` of the pattern
   * matched, reflected by the post-substitutions. `goto KEY` hands the input
   * to the rules of keyword KEY.
   */
  replies: string[];
  /**
   * Keep the reply for later instead of saying it now: when a later input has
   * no keyword, a kept reply is said first (Weizenbaum's MEMORY).
   */
  memory?: boolean;
}

/** A keyword: the word that selects it, its rank, and its decompositions. */
export interface Keyword {
  /** The word (after pre-substitution), lower case. */
  word: string;
  /** Higher ranks are tried first when an input holds several keywords. Default 0. */
  rank?: number;
  /** Tried in order; the first whose pattern matches gives the reply. */
  decompositions: Decomposition[];
}

/** A whole ELIZA script. */
export interface ElizaScript {
  /** The first lines, one per session, used in turn across sessions. */
  greetings: string[];
  /** Said to a quit word before the session ends, used in turn. */
  farewells: string[];
  /** Inputs that end the session (compared whole, in lower case, without punctuation). */
  quit: string[];
  /** Word replacements made on the input before matching ("dont" -> "don't"). */
  pre: Record<string, string>;
  /** Word replacements made on the matched parts before they are put in a reply ("my" -> "your"). */
  post: Record<string, string>;
  /** Synonym groups, used in patterns as `@name`; the group's name is a member too. */
  synonyms: Record<string, string[]>;
  /** The keywords. */
  keywords: Keyword[];
  /** Replies when no keyword matches and nothing is remembered, used in turn. */
  fallbacks: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function strings(value: unknown, where: string, nonEmpty: boolean): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new Error(`${where} must be an array of strings`);
  }
  if (nonEmpty && value.length === 0) throw new Error(`${where} must not be empty`);
  return value;
}

function words(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === "string")) {
    throw new Error(`${where} must be an object of words to words, like {"dont": "don't"}`);
  }
  return value as Record<string, string>;
}

/**
 * Checks that a value (a parsed JSON file, say) is a whole ELIZA script;
 * the error names the place, like `keywords[2].decompositions[0].replies`.
 */
export function checkScript(value: unknown): ElizaScript {
  if (!isRecord(value)) throw new Error("a script is a JSON object with greetings, keywords, ...");
  const synonyms: Record<string, string[]> = {};
  if (value.synonyms !== undefined) {
    if (!isRecord(value.synonyms)) throw new Error("synonyms must be an object of arrays of words");
    for (const [name, members] of Object.entries(value.synonyms)) {
      synonyms[name] = strings(members, `synonyms.${name}`, false);
    }
  }
  if (!Array.isArray(value.keywords)) throw new Error("keywords must be an array");
  const keywords: Keyword[] = value.keywords.map((keyword: unknown, k: number): Keyword => {
    const at = `keywords[${k}]`;
    if (!isRecord(keyword) || typeof keyword.word !== "string" || keyword.word === "") {
      throw new Error(`${at} must be an object with a "word"`);
    }
    if (keyword.rank !== undefined && typeof keyword.rank !== "number") {
      throw new Error(`${at}.rank must be a number`);
    }
    if (!Array.isArray(keyword.decompositions)) {
      throw new Error(`${at}.decompositions must be an array`);
    }
    const decompositions = keyword.decompositions.map((d: unknown, i: number): Decomposition => {
      const where = `${at}.decompositions[${i}]`;
      if (!isRecord(d) || typeof d.pattern !== "string" || d.pattern.trim() === "") {
        throw new Error(`${where} must be an object with a "pattern"`);
      }
      const replies = strings(d.replies, `${where}.replies`, true);
      const parts = d.pattern.split(/\s+/).filter((t) => t === "*" || t.startsWith("@")).length;
      for (const reply of replies) {
        for (const m of reply.matchAll(/\((\d+)\)/g)) {
          if (Number(m[1]) < 1 || Number(m[1]) > parts) {
            throw new Error(
              `${where}.replies: "${reply}" uses (${m[1]}) but "${d.pattern}" has ${parts} part(s)`,
            );
          }
        }
      }
      if (d.memory !== undefined && typeof d.memory !== "boolean") {
        throw new Error(`${where}.memory must be true or false`);
      }
      return { pattern: d.pattern, replies, memory: d.memory as boolean | undefined };
    });
    return { word: keyword.word, rank: keyword.rank as number | undefined, decompositions };
  });
  return {
    greetings: strings(value.greetings, "greetings", true),
    farewells: strings(value.farewells, "farewells", true),
    quit: strings(value.quit, "quit", false),
    pre: words(value.pre, "pre"),
    post: words(value.post, "post"),
    synonyms,
    keywords,
    fallbacks: strings(value.fallbacks, "fallbacks", true),
  };
}
