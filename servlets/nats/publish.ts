/**
 * `nats/publish`: publishes each line it reads to a NATS subject, one
 * message a line (without its newline), and passes the line on to its
 * output: a tap that tells other hosts (a `nats` listener's graph, any NATS
 * subscriber) what goes through. While the server is away, messages wait in
 * the client's buffer and go once it is back; the outage is logged.
 *
 * With `--request SECONDS`, each line is sent as a NATS request instead,
 * and the reply (from another host's `nats` listener, say) is written in
 * place of the line: a graph calls a service served elsewhere. No reply
 * within SECONDS, or no one serving the subject, fails the request.
 *
 * Arguments: `--servers URL` (default `nats://127.0.0.1:4222`; several
 * separated by commas), `--subject SUBJECT` (required; no wildcards),
 * `--request SECONDS` (a number above 0).
 *
 * Ports: `in` (input, `PERSIST`), `out` (output: the lines as read, or the
 * replies, each ending in a newline).
 *
 * @example
 * ```json
 * { "servlet": "nats/publish", "args": ["--servers", "nats://127.0.0.1:4222", "--subject", "plumb.log"] }
 * ```
 * @module
 */
import { defineServlet, PlumbError } from "../../mod.ts";
import { natsAddresses, servletNatsConnect } from "./_connection.ts";

/** A subject one can publish to: dot-separated tokens, no spaces, no wildcards. */
const PUBLISH_SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

/** The arguments, checked. */
interface PublishArgs {
  servers: string;
  subject: string;
  /** Milliseconds to wait for a reply; absent, lines are published, not requests. */
  requestMs?: number;
}

/** The arguments, checked. */
function parseArgs(args: readonly string[]): PublishArgs {
  const out: PublishArgs = { servers: "nats://127.0.0.1:4222", subject: "" };
  let ok = args.length % 2 === 0;
  for (let i = 0; ok && i < args.length; i += 2) {
    const value = args[i + 1];
    if (args[i] === "--servers") out.servers = value;
    else if (args[i] === "--subject") out.subject = value;
    else if (args[i] === "--request" && Number(value) > 0) out.requestMs = Number(value) * 1000;
    else ok = false;
  }
  if (!ok || !PUBLISH_SUBJECT.test(out.subject)) {
    throw new PlumbError(
      "PLUMB_NATS_PUBLISH_ARGS",
      `nats/publish: arguments are --servers URL, --subject SUBJECT (no wildcards) and ` +
        `--request SECONDS (above 0), got ${JSON.stringify(args)}`,
    );
  }
  natsAddresses(out.servers, "nats/publish: --servers");
  return out;
}

const encoder = new TextEncoder();

const decoder = new TextDecoder();

export default defineServlet({
  description: "publishes each line it reads to a NATS subject (or sends it as a request)",
  async init(args, env) {
    const { servers, subject, requestMs } = parseArgs(args);
    const link = await servletNatsConnect(servers, "nats/publish", env);
    return {
      link,
      subject,
      requestMs,
      input: env.input("in", { persist: true }),
      output: env.output("out"),
    };
  },
  async exec(ctx, task) {
    const nc = ctx.link.nc;
    for await (const line of task.lines(ctx.input)) {
      if (ctx.requestMs === undefined) {
        nc.publish(ctx.subject, encoder.encode(line));
        await task.write(ctx.output, `${line}\n`);
        continue;
      }
      let reply: string;
      try {
        const msg = await nc.request(ctx.subject, encoder.encode(line), {
          timeout: ctx.requestMs,
        });
        reply = decoder.decode(msg.data);
      } catch (error) {
        throw new PlumbError(
          "PLUMB_NATS_REQUEST_FAILED",
          `nats/publish: request on ${ctx.subject} failed: ${(error as Error).message}`,
        );
      }
      await task.write(ctx.output, reply.endsWith("\n") ? reply : `${reply}\n`);
    }
  },
  async unload(ctx) {
    await ctx.link.close();
  },
});
