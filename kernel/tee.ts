/**
 * `SHADOW` ports: a tee that gives the bytes of a port to that port's enabled
 * shadows. The shadow of an output carries what the node writes to the
 * output; the shadow of an input carries exactly what the node read from the
 * input. Either waits for the slowest shadow (so a slow branch slows the node
 * instead of growing a buffer).
 * @module
 */
import { ByteReader } from "./byte_reader.ts";
import { PipeError } from "./errors.ts";
import { DISABLED, OUTPUT } from "./flags.ts";
import { type InputHandle, type OutputHandle, RESOLVED, type StateSlot } from "./pipe.ts";
import type { Port } from "./servlet.ts";
import { QueuedValue, writeTextTo, writeValueTo } from "./value_codec.ts";

/**
 * A port's shadows: which of them are enabled now, checked so that a shadow
 * carries all of its target's bytes or none.
 */
class Shadows {
  readonly #node: string;
  readonly #handles: readonly OutputHandle[];
  readonly #ports: readonly Port[];
  /** "written" or "read": what the node does to the target, for messages. */
  readonly #verb: string;
  /** Which shadows carried something, by index. */
  readonly #fed: boolean[] = [];
  #uses = 0;
  /** The live shadows of the last use, and the DISABLED bits (one per shadow) they came from. */
  #live: OutputHandle[] = [];
  #disabled = -1;

  constructor(
    node: string,
    handles: readonly OutputHandle[],
    ports: readonly Port[],
    verb: string,
  ) {
    this.#node = node;
    this.#handles = handles;
    this.#ports = ports;
    this.#verb = verb;
  }

  /** The shadows enabled now; one enabled after the target was used would miss bytes. */
  live(): OutputHandle[] {
    const shadows = this.#handles;
    // The usual case: no shadow enabled or disabled since the last use, so nothing to check.
    let disabled = shadows.length <= 30 ? 0 : -2;
    for (let i = 0; disabled >= 0 && i < shadows.length; i++) {
      if (shadows[i].flags & DISABLED) disabled |= 1 << i;
    }
    if (disabled === this.#disabled) {
      this.#uses++;
      return this.#live;
    }
    const live: OutputHandle[] = [];
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
      if (this.#uses > 0 && !this.#fed[i]) {
        const first = this.#verb === "written" ? "write" : "read";
        throw new PipeError(
          "PLUMB_PIPE_SHADOW_ENABLED_LATE",
          `node "${this.#node}": shadow port "${
            this.#ports[i].name
          }" was enabled after its target ` +
            `was ${this.#verb}; clear DISABLED before the first ${first}, so that it carries every byte`,
        );
      }
      this.#fed[i] = true;
      live.push(shadow);
    }
    this.#uses++;
    this.#disabled = disabled;
    this.#live = live;
    return live;
  }
}

/** Sends the same thing to every handle; resolves when all took it (at once if all took it at once). */
function fan(
  live: readonly OutputHandle[],
  send: (handle: OutputHandle) => Promise<void>,
): Promise<void> {
  if (live.length === 1) return send(live[0]);
  let waits: Promise<void>[] | undefined;
  for (const handle of live) {
    const sent = send(handle);
    if (sent !== RESOLVED) (waits ??= []).push(sent);
  }
  return waits === undefined ? RESOLVED : Promise.all(waits).then(() => {});
}

/** Hands a chunk as it was read to every live shadow; the chunk once all took it. */
function fanChunk(
  live: readonly OutputHandle[],
  chunk: Uint8Array | string | QueuedValue,
): Uint8Array | string | QueuedValue | Promise<Uint8Array | string | QueuedValue> {
  let waits: Promise<void>[] | undefined;
  for (let i = 0; i < live.length; i++) {
    const sent = sendChunk(live[i], chunk);
    if (sent !== RESOLVED) (waits ??= []).push(sent);
  }
  return waits === undefined ? chunk : Promise.all(waits).then(() => chunk);
}

/** Writes a chunk as it was read (bytes, text or a value) to a shadow. */
function sendChunk(handle: OutputHandle, chunk: Uint8Array | string | QueuedValue): Promise<void> {
  if (chunk instanceof Uint8Array) return handle.write(chunk);
  if (typeof chunk === "string") return writeTextTo(handle, chunk);
  return writeValueTo(handle, chunk.value);
}

const BYTES = 0;
const TEXT = 1;
const VALUE = 2;

/** Writes `data` to `handle` as bytes, text or a value (`kind`). */
function sendAs(handle: OutputHandle, kind: number, data: unknown): Promise<void> {
  if (kind === BYTES) return handle.write(data as Uint8Array);
  if (kind === TEXT) return writeTextTo(handle, data as string);
  return writeValueTo(handle, data);
}

/** A target output and its shadows, seen as the target's handle. */
export class TeeOutput implements OutputHandle {
  readonly #target: OutputHandle;
  readonly #shadows: Shadows;

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
    this.#target = target;
    this.#shadows = new Shadows(node, shadows, ports, "written");
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

  write(chunk: Uint8Array): Promise<void> {
    return this.#fan(BYTES, chunk);
  }

  writeText(text: string): Promise<void> {
    return this.#fan(TEXT, text);
  }

  writeValue(value: unknown): Promise<void> {
    return this.#fan(VALUE, value);
  }

  /**
   * Sends the same thing (`kind` says what it is) to the target and every
   * live shadow; resolves when all took it. No closure per write: a route
   * writes once per request.
   */
  #fan(kind: number, data: unknown): Promise<void> {
    let live: OutputHandle[];
    try {
      live = this.#shadows.live();
    } catch (error) {
      return Promise.reject(error);
    }
    const first = sendAs(this.#target, kind, data);
    if (live.length === 0) return first;
    if (live.length === 1) {
      // The usual case (a route): no array, and no Promise.all when both took it at once.
      const second = sendAs(live[0], kind, data);
      return first === RESOLVED && second === RESOLVED
        ? RESOLVED
        : Promise.all([first, second]).then(() => {});
    }
    return Promise.all([first, ...live.map((handle) => sendAs(handle, kind, data))]).then(() => {});
  }

  touch(): void {
    const live = this.#shadows.live();
    this.#target.touch();
    for (const shadow of live) shadow.touch();
  }
}

/**
 * A target input and the shadows of it, seen as the target's handle: what the
 * node reads goes to every enabled shadow too, exactly: the bytes a `read` or
 * `readLine` took (its end of line as sent), text and values as they were
 * written. Bytes are carried when the node reads again or its exec ends, so
 * that bytes given back with `EOM` are not carried; the read that gives them
 * waits for the slowest shadow.
 */
export class TeeInput implements InputHandle, Teed {
  readonly #node: string;
  readonly #port: Port;
  readonly #target: InputHandle;
  readonly #shadows: Shadows;
  /**
   * Splits lines and hands out chunks, so that what each read took is known
   * to the byte; made by the first byte read (`readChunk` alone needs none).
   */
  #byteReader: ByteReader | undefined;
  /** Chunks the reader pulled whose bytes are not carried yet, the first from `#skip` on. */
  #pulled: Uint8Array[] = [];
  #skip = 0;
  /** Bytes of the reader's consumption carried so far. */
  #carried = 0;
  /** A chunk read ahead (by `readValue`), for the reader to pull first. */
  #ahead: Uint8Array | null = null;
  /** The shadows enabled at the first read; `undefined` before it. */
  #live: OutputHandle[] | undefined;

  /**
   * @param node the node's name, for messages
   * @param port the target input port, for messages
   * @param target the target port's own handle
   * @param shadows the shadows' handles
   * @param ports the shadows' ports, in the same order, for messages
   */
  constructor(
    node: string,
    port: Port,
    target: InputHandle,
    shadows: readonly OutputHandle[],
    ports: readonly Port[],
  ) {
    this.#node = node;
    this.#port = port;
    this.#target = target;
    this.#shadows = new Shadows(node, shadows, ports, "read");
  }

  get #reader(): ByteReader {
    return this.#byteReader ??= new ByteReader(() => this.#pull());
  }

  /** True when byte reads took bytes not carried yet, or left bytes buffered. */
  get #bytesPending(): boolean {
    const reader = this.#byteReader;
    return reader !== undefined && (reader.consumed !== this.#carried || reader.buffered > 0);
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
  get state(): StateSlot | undefined {
    return this.#target.state;
  }
  get module(): Readonly<Record<string, unknown>> | undefined {
    return this.#target.module;
  }

  async #pull(): Promise<Uint8Array | null> {
    const ahead = this.#ahead;
    this.#ahead = null;
    const target = this.#target;
    let chunk = ahead ?? await target.read();
    // A line cut in two (bytes buffered, no end of line yet): wait for its rest, as readLine does.
    while (chunk === null && this.#reader.buffered > 0 && target.more && await target.more()) {
      chunk = await target.read();
    }
    if (chunk !== null && chunk.length > 0) this.#pulled.push(chunk);
    return chunk;
  }

  /**
   * The shadows to feed, fixed at the first read (and each read checks that
   * none was enabled or disabled since); a first read also marks them written.
   */
  #shadowsNow(): OutputHandle[] {
    const first = this.#live === undefined;
    const live = this.#live = this.#shadows.live();
    if (first) { for (const shadow of live) shadow.touch(); }
    return live;
  }

  /** Carries the bytes the reader handed out since the last time. */
  #carry(live: readonly OutputHandle[]): Promise<void> {
    const reader = this.#byteReader;
    if (reader === undefined) return RESOLVED;
    let n = reader.consumed - this.#carried;
    if (n <= 0) return RESOLVED;
    this.#carried += n;
    const pieces: Uint8Array[] = [];
    while (n > 0) {
      const chunk = this.#pulled[0];
      const take = Math.min(n, chunk.length - this.#skip);
      pieces.push(chunk.subarray(this.#skip, this.#skip + take));
      n -= take;
      if (this.#skip + take === chunk.length) {
        this.#pulled.shift();
        this.#skip = 0;
      } else this.#skip += take;
    }
    if (pieces.length === 1) return fan(live, (h) => h.write(pieces[0]));
    return pieces.reduce(
      (previous: Promise<void>, piece) => previous.then(() => fan(live, (h) => h.write(piece))),
      RESOLVED,
    );
  }

  /** Checks the shadows, carries what earlier reads took, then runs the read. */
  async #then<T>(read: () => Promise<T>): Promise<T> {
    await this.#carry(this.#shadowsNow());
    return read();
  }

  read(): Promise<Uint8Array | null> {
    return this.#then(() => this.#reader.read());
  }

  readLine(): Promise<string | null> {
    return this.#then(() => this.#reader.readLine());
  }

  eof(): Promise<boolean> {
    const reader = this.#byteReader;
    if (this.#ahead !== null || (reader !== undefined && reader.buffered > 0)) {
      return Promise.resolve(false);
    }
    return reader?.ended ? Promise.resolve(true) : this.#target.eof();
  }

  readChunk(): Promise<Uint8Array | string | QueuedValue | null> {
    let live: OutputHandle[];
    try {
      live = this.#shadowsNow();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#bytesPending || this.#ahead !== null) return this.#readChunkBuffered(live);
    // The usual case (dup): a chunk as it was queued, handed to every shadow as it is.
    const target = this.#target;
    const next = target.readChunk ? target.readChunk() : target.read();
    return next.then((chunk) => chunk === null ? null : fanChunk(live, chunk));
  }

  /** `readChunk` after byte reads: what they took is carried first, then what is buffered. */
  async #readChunkBuffered(
    live: readonly OutputHandle[],
  ): Promise<Uint8Array | string | QueuedValue | null> {
    await this.#carry(live);
    if (this.#reader.buffered === 0 && this.#ahead === null) return this.readChunk();
    const chunk = await this.#reader.read();
    await this.#carry(live);
    return chunk;
  }

  async readValue(): Promise<QueuedValue | string | null> {
    const live = this.#shadowsNow();
    await this.#carry(live);
    const target = this.#target;
    if (!this.#bytesPending && this.#ahead === null && target.readChunk) {
      const chunk = await target.readChunk();
      if (chunk === null) return null;
      if (chunk instanceof QueuedValue) {
        await fan(live, (h) => writeValueTo(h, chunk.value));
        return chunk;
      }
      // Text or bytes: a line, split by the reader so that what it took is carried exactly.
      this.#ahead = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    }
    return this.#reader.readLine();
  }

  unread(bytes: Uint8Array): void {
    if (bytes.length > this.#reader.consumed - this.#carried) {
      throw new PipeError(
        "PLUMB_PIPE_EOM_SHADOWED",
        `node "${this.#node}": EOM on port "${this.#port.name}" gives back ${bytes.length} bytes, ` +
          `more than the last read took; its SHADOW ports carried the others already`,
      );
    }
    this.#reader.unread(bytes);
  }

  /**
   * Ends the node's reading once its exec returned: carries what the last
   * reads took, then gives back what the tee read ahead.
   */
  finish(): Promise<void> {
    const carrying = this.#live === undefined ? RESOLVED : this.#carry(this.#live);
    if (carrying !== RESOLVED) return carrying.then(() => this.giveBack());
    this.giveBack();
    return RESOLVED;
  }

  /**
   * Gives what the tee read and the node did not take back to the target (on
   * a connection, the next request's bytes); carries nothing more.
   */
  giveBack(): void {
    const ahead = this.#ahead;
    this.#ahead = null;
    if (ahead !== null) this.#target.unread(ahead);
    const buffered = this.#byteReader?.takeBuffered();
    if (buffered) this.#target.unread(buffered);
  }

  release(): void {
    this.#target.release();
  }
}

/** The tees of a node's inputs, to end once its exec has returned. */
export interface Teed {
  /** Carries what the node's reads took last, then gives back what was read ahead. */
  finish(): Promise<void>;
  /** Gives back what was read ahead, carrying nothing more (the exec failed). */
  giveBack(): void;
}

/**
 * Puts each port that has shadows behind a tee that feeds its enabled
 * shadows too: an output's tee on write, an input's on read. Returns what to
 * call once the node's exec has returned, or `undefined` when no input has
 * shadows (nothing to finish).
 *
 * @param node the node's name, for messages
 * @param ports the node's declared ports
 * @param tees each port with shadows: its descriptor and its shadows' descriptors
 * @param handles this request's handle of each port, replaced in place
 */
export function applyTees(
  node: string,
  ports: readonly Port[],
  tees: readonly { target: number; shadows: readonly number[]; shadowPorts?: readonly Port[] }[],
  handles: (InputHandle | OutputHandle)[],
): Teed | undefined {
  let inputs: TeeInput[] | undefined;
  for (const { target, shadows, shadowPorts: declared } of tees) {
    const shadowHandles = shadows.map((s) => handles[s] as OutputHandle);
    const shadowPorts = declared ?? shadows.map((s) => ports[s]);
    if (ports[target].flags & OUTPUT) {
      handles[target] = new TeeOutput(
        node,
        handles[target] as OutputHandle,
        shadowHandles,
        shadowPorts,
      );
    } else {
      const tee = new TeeInput(
        node,
        ports[target],
        handles[target] as InputHandle,
        shadowHandles,
        shadowPorts,
      );
      handles[target] = tee;
      (inputs ??= []).push(tee);
    }
  }
  if (inputs === undefined || inputs.length === 1) return inputs?.[0];
  const teeInputs = inputs;
  return {
    finish: () => Promise.all(teeInputs.map((t) => t.finish())).then(() => {}),
    giveBack: () => teeInputs.forEach((t) => t.giveBack()),
  };
}
