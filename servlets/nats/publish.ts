/**
 * `nats/publish`: publishes each line it reads to a NATS subject, one
 * message a line (without its newline), and passes the line on to its
 * output: a tap that tells other hosts (a `nats` listener's graph, any NATS
 * subscriber) what goes through. While the server is away, messages wait in
 * the client's buffer and go once it is back; the outage is logged.
 *
 * Arguments: `--servers URL` (default `nats://127.0.0.1:4222`; several
 * separated by commas), `--subject SUBJECT` (required; no wildcards).
 *
 * Ports: `in` (input, `PERSIST`), `out` (output: the lines, as read).
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
function parseArgs(args: readonly string[]): { servers: string; subject: string } {
  const out = { servers: "nats://127.0.0.1:4222", subject: "" };
  let ok = args.length % 2 === 0;
  for (let i = 0; ok && i < args.length; i += 2) {
    if (args[i] === "--servers") out.servers = args[i + 1];
    else if (args[i] === "--subject") out.subject = args[i + 1];
    else ok = false;
  }
  if (!ok || !PUBLISH_SUBJECT.test(out.subject)) {
    throw new PlumbError(
      "PLUMB_NATS_PUBLISH_ARGS",
      `nats/publish: arguments are --servers URL and --subject SUBJECT (no wildcards), got ${
        JSON.stringify(args)
      }`,
    );
  }
  natsAddresses(out.servers, "nats/publish: --servers");
  return out;
}

const encoder = new TextEncoder();

export default defineServlet({
  description: "publishes each line it reads to a NATS subject, and passes it on",
  async init(args, env) {
    const { servers, subject } = parseArgs(args);
    const link = await servletNatsConnect(servers, "nats/publish", env);
    return {
      link,
      subject,
      input: env.input("in", { persist: true }),
      output: env.output("out"),
    };
  },
  async exec(ctx, task) {
    for await (const line of task.lines(ctx.input)) {
      ctx.link.nc.publish(ctx.subject, encoder.encode(line));
      await task.write(ctx.output, `${line}\n`);
    }
  },
  async unload(ctx) {
    await ctx.link.close();
  },
});
