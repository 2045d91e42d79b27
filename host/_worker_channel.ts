/**
 * The transport of `--workers`' messages between the supervisor and a worker
 * process, apart from what the messages mean (`worker_protocol.ts`): one JSON
 * value a line, the supervisor's on the worker's standard input, the
 * worker's on its standard output. A worker's servlets may write to standard
 * output too, so each of the worker's lines starts with {@linkcode MARK}, and
 * any other text there is handed on as it is.
 * @module
 */

/** What starts each message line a worker writes; text without it is a servlet's. */
export const MARK = "\u001eplumb:";

/** One end of a channel: send a message, receive the other end's. */
export interface Channel<In, Out> {
  /** Sends a message; dropped once the other end is gone. */
  send(message: Out): void;
  /** Called with each message received, in order. */
  onmessage: (message: In) => void;
  /** Resolves when the other end closed its side (the worker exited, or the supervisor). */
  readonly closed: Promise<void>;
}

const encoder = new TextEncoder();

/** Writes all of `bytes`, however many calls the writer takes. */
async function writeAll(writer: WritableStreamDefaultWriter<Uint8Array>, bytes: Uint8Array) {
  await writer.ready;
  await writer.write(bytes);
}

/**
 * Splits `readable` into lines and calls `line` with each (without its
 * newline, a last unterminated one included); resolves at its end. A line
 * whose handling throws is dropped, and the lines after it are still read.
 */
export async function eachLine(
  readable: ReadableStream<Uint8Array>,
  line: (text: string) => void,
): Promise<void> {
  const handle = (text: string): void => {
    try {
      line(text);
    } catch {
      // One bad line must not stop the channel: the next ones are still handled.
    }
  };
  let rest = "";
  try {
    for await (const text of readable.pipeThrough(new TextDecoderStream())) {
      rest += text;
      let end = rest.indexOf("\n");
      while (end >= 0) {
        handle(rest.slice(0, end));
        rest = rest.slice(end + 1);
        end = rest.indexOf("\n");
      }
    }
  } catch {
    // The other end is gone: what was read is all there is.
  }
  if (rest !== "") handle(rest);
}

/**
 * The supervisor's end of the channel to a worker process spawned with
 * piped standard input and output.
 * @param text called with each piece of the worker's standard output that is
 *   not a message (a servlet's `console.log`), with its newline
 */
export function processChannel<In, Out>(
  child: Deno.ChildProcess,
  text: (output: string) => void,
): Channel<In, Out> {
  const writer = child.stdin.getWriter();
  let open = true;
  let queue = Promise.resolve();
  const channel: Channel<In, Out> = {
    send(message: Out): void {
      if (!open) return;
      const bytes = encoder.encode(JSON.stringify(message) + "\n");
      queue = queue.then(() => writeAll(writer, bytes)).catch(() => {
        open = false;
      });
    },
    onmessage: () => {},
    closed: eachLine(child.stdout, (line) => {
      const at = line.indexOf(MARK);
      let message: In;
      try {
        if (at < 0) throw new SyntaxError("no mark");
        message = JSON.parse(line.slice(at + MARK.length));
      } catch {
        return text(line + "\n"); // not a message after all: output, as it is
      }
      if (at > 0) text(line.slice(0, at));
      channel.onmessage(message);
    }).then(() => {
      open = false;
      writer.close().catch(() => {});
    }),
  };
  return channel;
}

/**
 * A worker process's end of the channel: messages in on standard input,
 * out on standard output. Each message is written whole, synchronously, so
 * that a servlet's output never lands inside one.
 */
export function parentChannel<In, Out>(): Channel<In, Out> {
  const channel: Channel<In, Out> = {
    send(message: Out): void {
      const bytes = encoder.encode(`${MARK}${JSON.stringify(message)}\n`);
      try {
        for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
      } catch {
        // The supervisor is gone; the end of standard input stops this worker.
      }
    },
    onmessage: () => {},
    closed: eachLine(Deno.stdin.readable, (line) => {
      if (line !== "") channel.onmessage(JSON.parse(line) as In);
    }),
  };
  return channel;
}
