/**
 * The I/O modules a graph's listeners can name.
 * @module
 */
import type { IoModule } from "./module.ts";
import { tcp } from "./tcp.ts";

/** The modules, by name. */
export const IO_MODULES: Readonly<Record<string, IoModule<unknown>>> = {
  tcp: tcp as IoModule<unknown>,
};
