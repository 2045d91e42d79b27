/**
 * The `stdio` module: the process's standard input and output are one
 * persistent connection. So a graph runs in a terminal (the article's
 * command-line ELIZA), and under inetd, xinetd or tcpserver in "nowait" mode,
 * where standard input and output are the client's socket. The listener is
 * done when the client goes (end of input, or `PERSIST` off).
 * @module
 */
import { stdioChannel } from "./channel.ts";
import type { IoModule, ListenContext, Listener } from "./module.ts";
import { checkOptions, type OptionRule } from "./options.ts";
import { singleSessionListener } from "./session_pool.ts";
import {
  SESSION_RULES,
  type SessionListenerOptions,
  sessionOptions,
  sessionSettings,
} from "./session_options.ts";

/** Options of a `stdio` listener. */
export interface StdioOptions extends SessionListenerOptions {
}

const RULES: Record<keyof StdioOptions, OptionRule> = { ...SESSION_RULES };

/** The `stdio` module. */
export const stdio: IoModule<StdioOptions> = {
  name: "stdio",
  parseOptions(options: Record<string, unknown>, where: string): StdioOptions {
    checkOptions(options, RULES, where);
    return sessionOptions(options);
  },
  listen(options: StdioOptions, context: ListenContext): Promise<Listener> {
    const session = sessionSettings(options);
    return Promise.resolve(
      singleSessionListener("stdio:", stdioChannel(), context, session, options.ttl),
    );
  },
};
