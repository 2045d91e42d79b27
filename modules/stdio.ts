/**
 * The `stdio` module: the process's standard input and output are one
 * persistent connection. So a graph runs in a terminal (the article's
 * command-line ELIZA), and under inetd, xinetd or tcpserver in "nowait" mode,
 * where standard input and output are the client's socket. The listener is
 * done when the client goes (end of input, or `PERSIST` off).
 * @module
 */
import { stdioChannel } from "./channel.ts";
import type { DeclaredModule, ListenContext, Listener } from "./module.ts";
import { type OptionsOf, parseOptions } from "./options.ts";
import { singleSessionListener } from "./session_pool.ts";
import { SESSION_OPTIONS, sessionSettings } from "./session_options.ts";

/** The options of a `stdio` listener, declared: the session options. */
export const STDIO_OPTIONS: typeof SESSION_OPTIONS = SESSION_OPTIONS;

/** Options of a `stdio` listener, parsed (see {@linkcode STDIO_OPTIONS}). */
export type StdioOptions = OptionsOf<typeof STDIO_OPTIONS>;

/** The `stdio` module. */
export const stdio: DeclaredModule<typeof STDIO_OPTIONS> = {
  name: "stdio",
  options: STDIO_OPTIONS,
  parseOptions: (options, where) => parseOptions(STDIO_OPTIONS, options, where),
  listen(options: StdioOptions, context: ListenContext): Promise<Listener> {
    const session = sessionSettings(options);
    return Promise.resolve(
      singleSessionListener("stdio:", stdioChannel(), context, session, options.ttl),
    );
  },
};
