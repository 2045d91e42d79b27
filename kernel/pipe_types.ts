/**
 * Typed pipes (S6): type names that extend others, generic ports (`$T`)
 * that take the type of what is connected, and the check that refuses an
 * edge whose producer type does not convert to its consumer's.
 *
 * Built-in types: `bytes` (the root), `text` (extends `bytes`), `text/line`
 * and `json` (extend `text`). A servlet family registers its own by declaring
 * ports with the `PipeType`s it makes with `pipeType` (the HTTP servlets'
 * `http/request`, for one), and a graph adds its own in `"types"`, each naming
 * the type it extends. A port with no type takes anything. A type converts to
 * itself and to every type it extends, directly or not.
 * @module
 */
import { GraphError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

/** The built-in types, each with the type it extends. */
export const BUILTIN_TYPES: Readonly<Record<string, string | null>> = {
  bytes: null,
  text: "bytes",
  "text/line": "text",
  json: "text",
};

/** Types a loaded node registers (its ports' pipe types), with the node's name (for messages). */
export interface RegisteredTypes {
  /** The node whose servlet declares them. */
  readonly node: string;
  /** Type name to the name of the type it extends. */
  readonly types: Readonly<Record<string, string>>;
}

/** A set of types and what each extends. */
export class TypeTable {
  readonly #parent = new Map<string, string | null>(Object.entries(BUILTIN_TYPES));

  /**
   * Adds a graph's own types; throws a {@linkcode GraphError} for a type that
   * extends an unknown one or itself (a loop).
   * @param file the graph file, for messages
   * @param types type name to the name of the type it extends
   * @param registered types the graph's servlets register; the same name
   *   registered twice must extend the same type
   */
  constructor(
    file: string,
    types: Readonly<Record<string, string>> = {},
    registered: readonly RegisteredTypes[] = [],
  ) {
    const owner = new Map<string, string>();
    for (const { node, types: own } of registered) {
      for (const [name, parent] of Object.entries(own)) {
        const known = this.#parent.get(name);
        if (known !== undefined && known !== parent) {
          throw new GraphError(
            "PLUMB_TYPE_CONFLICT",
            `${file}: node "${node}" registers type "${name}" extending "${parent}", but ${
              owner.has(name) ? `node "${owner.get(name)}"` : "the kernel"
            } has it extend "${known}"`,
          );
        }
        if (!this.#parent.has(name)) owner.set(name, node);
        this.#parent.set(name, parent);
      }
    }
    for (const name of Object.keys(types)) {
      if (this.#parent.has(name)) {
        const by = owner.has(name) ? `registered by node "${owner.get(name)}"` : "a built-in type";
        throw new GraphError(
          owner.has(name) ? "PLUMB_TYPE_REGISTERED" : "PLUMB_TYPE_BUILT_IN",
          `${file}: "types": "${name}" is ${by}; pick another name`,
        );
      }
      this.#parent.set(name, types[name]);
    }
    const added: Record<string, string> = { ...types };
    for (const name of owner.keys()) added[name] = this.#parent.get(name)!;
    types = added;
    for (const [name, parent] of Object.entries(types)) {
      if (!this.#parent.has(parent)) {
        throw new GraphError(
          "PLUMB_TYPE_UNKNOWN_PARENT",
          `${file}: "types": "${name}" extends unknown type "${parent}"${
            didYouMean(parent, this.#parent.keys())
          }`,
        );
      }
      const seen = new Set<string>([name]);
      for (let t: string | null = parent; t !== null; t = this.#parent.get(t) ?? null) {
        if (seen.has(t)) {
          throw new GraphError(
            "PLUMB_TYPE_LOOP",
            `${file}: "types": "${name}" extends itself through "${t}"`,
          );
        }
        seen.add(t);
      }
    }
  }

  /** True for a known type name. */
  has(name: string): boolean {
    return this.#parent.has(name);
  }

  /** The known type names. */
  names(): string[] {
    return [...this.#parent.keys()];
  }

  /** `name` and every type it extends, nearest first. */
  ancestors(name: string): string[] {
    const chain: string[] = [];
    for (
      let t: string | null = name;
      t !== null && t !== undefined;
      t = this.#parent.get(t) ?? null
    ) {
      chain.push(t);
    }
    return chain;
  }

  /** True when a value of type `from` may flow into a port of type `to`. */
  converts(from: string, to: string): boolean {
    return this.ancestors(from).includes(to);
  }

  /** The nearest type both `a` and `b` convert to. */
  common(a: string, b: string): string {
    const up = this.ancestors(b);
    return this.ancestors(a).find((t) => up.includes(t)) ?? "bytes";
  }
}

/** True for a generic type (`$T`), bound to what the port is connected to. */
export function isGeneric(type: string | undefined): type is string {
  return type !== undefined && type.startsWith("$");
}
