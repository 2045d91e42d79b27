/**
 * `SHADOW` outputs: a tee that writes what a node writes to a port also to
 * that port's enabled shadows, waiting for the slowest of them (so a slow
 * branch slows the writer instead of growing a buffer).
 * @module
 */
import { PipeError } from "./errors.ts";
import { DISABLED } from "./flags.ts";
import { type OutputHandle, RESOLVED, type StateSlot } from "./pipe.ts";
import type { Port } from "./servlet.ts";
import { writeTextTo, writeValueTo } from "./value_codec.ts";

/** A target output and its shadows, seen as the target's handle. */
export class TeeOutput implements OutputHandle {
  readonly #node: string;
  readonly #target: OutputHandle;
  readonly #shadows: readonly OutputHandle[];
  readonly #ports: readonly Port[];
  /** Which shadows carried something, by index. */
  readonly #fed: boolean[] = [];
  #writes = 0;

  /**
   * @param node the node's name, for messages
   * @param target the target port's own handle
   * @param shadows the shadows' handles
   * @param ports the shadows' ports, in the same order, for messages
   */
  constructor(
    node: string,
    target: OutputHandle,
    shadows: readonly OutputHandle[],
    ports: readonly Port[],
  ) {
    this.#node = node;
    this.#target = target;
    this.#shadows = shadows;
    this.#ports = ports;
  }

  get flags(): number {
    return this.#target.flags;
  }
  set flags(value: number) {
    this.#target.flags = value;
  }
  get touched(): number {
    return this.#target.touched;
  }
  set touched(value: number) {
    this.#target.touched = value;
  }
  get written(): boolean {
    return this.#target.written;
  }
  get state(): StateSlot | undefined {
    return this.#target.state;
  }

  /** The shadows enabled now; one enabled after the target was written would miss bytes. */
  #live(): OutputHandle[] {
    const live: OutputHandle[] = [];
    const shadows = this.#shadows;
    for (let i = 0; i < shadows.length; i++) {
      const shadow = shadows[i];
      if (shadow.flags & DISABLED) {
        if (this.#fed[i]) {
          throw new PipeError(
            "PLUMB_PIPE_SHADOW_DISABLED_LATE",
            `node "${this.#node}": shadow port "${
              this.#ports[i].name
            }" was disabled again after it ` +
              `carried bytes; a shadow carries all of its target's bytes or none`,
          );
        }
        continue;
      }
      if (this.#writes > 0 && !this.#fed[i]) {
        throw new PipeError(
          "PLUMB_PIPE_SHADOW_ENABLED_LATE",
          `node "${this.#node}": shadow port "${
            this.#ports[i].name
          }" was enabled after its target ` +
            `was written; clear DISABLED before the first write, so that it carries every byte`,
        );
      }
      this.#fed[i] = true;
      live.push(shadow);
    }
    this.#writes++;
    return live;
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.#fan((handle) => handle.write(chunk));
  }

  writeText(text: string): Promise<void> {
    return this.#fan((handle) => writeTextTo(handle, text));
  }

  writeValue(value: unknown): Promise<void> {
    return this.#fan((handle) => writeValueTo(handle, value));
  }

  /** Sends the same thing to the target and every live shadow; resolves when all took it. */
  #fan(send: (handle: OutputHandle) => Promise<void>): Promise<void> {
    let live: OutputHandle[];
    try {
      live = this.#live();
    } catch (error) {
      return Promise.reject(error);
    }
    if (live.length === 0) return send(this.#target);
    const first = send(this.#target);
    if (live.length === 1) {
      // The usual case (a route): no array, and no Promise.all when both took it at once.
      const second = send(live[0]);
      return first === RESOLVED && second === RESOLVED
        ? RESOLVED
        : Promise.all([first, second]).then(() => {});
    }
    return Promise.all([first, ...live.map(send)]).then(() => {});
  }

  touch(): void {
    const live = this.#live();
    this.#target.touch();
    for (const shadow of live) shadow.touch();
  }
}
