/**
 * The layers of plumb: which folder may import which, by the layer of the
 * imported module. `tools/check_layers.ts` enforces it on the module graph,
 * and `docs/architecture.md` shows it as a table (a test keeps the two equal).
 * @module
 */

/** What each layer may import, by the layer of the imported module. */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  kernel: ["kernel"],
  "deno.json": [],
  "mod.ts": ["kernel"],
  modules: ["kernel", "modules"],
  servlets: ["mod.ts", "servlets"],
  examples: ["mod.ts", "servlets"],
  host: ["kernel", "modules", "servlets", "host", "mod.ts"],
  testing: ["kernel", "modules", "host", "testing", "mod.ts"],
  "main.ts": ["kernel", "modules", "host", "mod.ts", "deno.json"],
};
