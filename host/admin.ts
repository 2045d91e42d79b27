/**
 * The admin listener (`--admin HOST:PORT`): an HTTP server in the host's
 * process, beside the graph's listeners and outside their limits, serving
 * `/metrics` (Prometheus), `/health` (for load balancers) and `/`, a page
 * that draws the running graph and shows it at work.
 * @module
 */
import { lineOf, PermissionHint, PlumbError } from "../kernel/errors.ts";
import { ADMIN_PAGE } from "./_admin_page.ts";
import { type GraphView, renderSvg } from "./graph_view.ts";
import { liveView, sumSnapshots } from "./live.ts";
import type { MetricsSnapshot } from "./metrics.ts";
import { PROMETHEUS_CONTENT_TYPE, prometheusText, type Scrape } from "./prometheus.ts";
import type { AdminOptions } from "./serve_options.ts";

/** How often the page's event stream sends the counters, in milliseconds. */
export const EVENT_INTERVAL_MS = 1000;

/** What the admin listener serves: a host's, or its workers', metrics and graph. */
export interface AdminSource {
  /** The metrics now: one snapshot per host or worker. */
  scrape(): Promise<readonly Scrape[]>;
  /** The graph served to new connections now. */
  view(): Promise<GraphView>;
  /** True once the host is stopping (`/health` answers 503). */
  readonly stopping: boolean;
}

/** True for an address only this machine reaches: `127.0.0.0/8`, `::1`, `localhost`. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare) ||
    /^::ffff:127\.\d+\.\d+\.\d+$/.test(bare);
}

/**
 * Throws a {@linkcode PlumbError} when the admin listener may not listen on
 * `options`: an address that is not loopback needs `public`.
 */
export function checkAdminAddress(options: AdminOptions): void {
  const host = options.host ?? "127.0.0.1";
  if (isLoopback(host) || options.public) return;
  throw new PlumbError(
    "PLUMB_ADMIN_NOT_LOOPBACK",
    `--admin ${host}:${options.port}: ${host} is not a loopback address, and the admin page ` +
      `shows the graph, its servlets' arguments and their errors to whoever reaches it; ` +
      `add --admin-public (admin.public in ServeOptions) to serve it there`,
  );
}

/**
 * Parses `--admin`'s `HOST:PORT` (`127.0.0.1:9090`, `[::1]:9090`, or `:9090`
 * for 127.0.0.1); throws a {@linkcode PlumbError} saying what is wrong.
 */
export function parseAdminAddress(text: string): { host: string; port: number } {
  const match = text.match(/^(\[[0-9a-fA-F:.]+\]|[^:\[\]]*):(\d+)$/);
  if (match === null || Number(match[2]) > 65535) {
    throw new PlumbError(
      "PLUMB_CLI_ADMIN",
      `--admin takes HOST:PORT, for example 127.0.0.1:9090 (port 0 picks a free one), got "${text}"`,
    );
  }
  const host = match[1].replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? "127.0.0.1" : host, port: Number(match[2]) };
}

function text(body: string, status = 200, type = "text/plain; charset=utf-8"): Response {
  return new Response(body, { status, headers: { "content-type": type } });
}

/** A running admin listener. */
export class AdminListener {
  /** Its address, for example `http://127.0.0.1:9090/`. */
  readonly url: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #source: AdminSource;
  /** The open event streams, each closed by its function. */
  readonly #streams = new Set<() => void>();
  #svg: { dot: string; svg: Promise<string> } | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Listens on `options` (loopback only, unless `public`); throws a
   * {@linkcode PlumbError} naming the address when it cannot.
   */
  static start(options: AdminOptions, source: AdminSource): AdminListener {
    checkAdminAddress(options);
    const hostname = options.host ?? "127.0.0.1";
    const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
    const port = options.port === 0 ? "" : `:${options.port}`;
    const status = Deno.permissions.querySync({ name: "net", host: `${hostname}${port}` });
    if (status.state !== "granted") {
      throw new PermissionHint(
        "PLUMB_PERMISSION_ADMIN",
        `cannot listen on the admin address ${shown}${port}`,
        `--allow-net=${hostname}${port}`,
      );
    }
    return new AdminListener(hostname, options.port, source);
  }

  private constructor(hostname: string, port: number, source: AdminSource) {
    this.#source = source;
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({ hostname, port, onListen: () => {} }, (r) => this.#handle(r));
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.AddrNotAvailable) {
        throw new PlumbError(
          "PLUMB_ADMIN_LISTEN",
          `cannot listen on the admin address ${hostname}:${port}: ${error.message}`,
        );
      }
      throw error;
    }
    this.#server = server;
    const addr = server.addr;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    this.url = `http://${host}:${addr.port}/`;
  }

  async #handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("only GET\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    try {
      switch (pathname) {
        case "/health":
          return this.#source.stopping ? text("stopping\n", 503) : text("ok\n");
        case "/metrics":
          return text(
            prometheusText(await this.#source.scrape(), Deno.memoryUsage()),
            200,
            PROMETHEUS_CONTENT_TYPE,
          );
        case "/":
          return text(ADMIN_PAGE, 200, "text/html; charset=utf-8");
        case "/graph.json":
          return text(JSON.stringify(await this.#source.view()), 200, "application/json");
        case "/graph.svg":
          return text(await this.#drawing(), 200, "image/svg+xml");
        case "/events":
          return this.#events();
        default:
          return text(`no ${pathname} here: try /, /metrics or /health\n`, 404);
      }
    } catch (error) {
      return text(`${pathname} failed: ${lineOf(error)}\n`, 500);
    }
  }

  /** The graph drawn by Graphviz, drawn again only when the graph changed. */
  async #drawing(): Promise<string> {
    const { dot } = await this.#source.view();
    if (this.#svg?.dot !== dot) this.#svg = { dot, svg: renderSvg(dot) };
    return await this.#svg.svg;
  }

  /** The page's event stream: the live counters now, then every {@linkcode EVENT_INTERVAL_MS}. */
  #events(): Response {
    const encoder = new TextEncoder();
    let before: MetricsSnapshot | undefined;
    let stop = (): void => {};
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const send = async (): Promise<void> => {
          try {
            const scrapes = await this.#source.scrape();
            const now = sumSnapshots(scrapes.map((s) => s.snapshot));
            const event = liveView(before, now, scrapes.length);
            before = now;
            controller.enqueue(encoder.encode(`data: ${JSON.stringify(event)}\n\n`));
          } catch {
            // The stream is closed, or the host is gone: the interval stops with it.
          }
        };
        const timer = setInterval(send, EVENT_INTERVAL_MS);
        stop = () => {
          clearInterval(timer);
          this.#streams.delete(stop);
          try {
            controller.close();
          } catch {
            // Cancelled by the page already.
          }
        };
        this.#streams.add(stop);
        send();
      },
      cancel: () => stop(),
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
    });
  }

  /** Ends the event streams and stops listening. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      for (const stop of [...this.#streams]) stop();
      await this.#server.shutdown();
    })();
  }
}
