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
