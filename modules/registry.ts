/**
 * The I/O modules a graph's listeners can name.
 * @module
 */
import { file } from "./file.ts";
import type { IoModule } from "./module.ts";
import { stdio } from "./stdio.ts";
import { tcp } from "./tcp.ts";
import { unix } from "./unix.ts";

/** The modules, by name. */
export const IO_MODULES: Readonly<Record<string, IoModule<unknown>>> = {
  tcp: tcp as IoModule<unknown>,
  unix: unix as IoModule<unknown>,
  stdio: stdio as IoModule<unknown>,
  file: file as IoModule<unknown>,
};
