/**
 * The I/O modules a graph's listeners can name.
 * @module
 */
import { file } from "./file.ts";
import type { IoModule } from "./module.ts";
import { nats } from "./nats.ts";
import { stdio } from "./stdio.ts";
import { tcp } from "./tcp.ts";
import { tls } from "./tls.ts";
import { unix } from "./unix.ts";

/** The built-in modules, by name, each with its declared options' types. */
export const BUILTIN_MODULES = { tcp, tls, unix, stdio, file, nats } as const;

/** The modules, by name. */
export const IO_MODULES: Readonly<Record<string, IoModule<unknown>>> = BUILTIN_MODULES;
