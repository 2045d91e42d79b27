/**
 * The codes of plumb's messages: every error plumb raises (`error.code`) and
 * every log line it writes carries one, printed before the message
 * (`plumb: PLUMB_SERVLET_UNKNOWN graph.json: node "x": unknown servlet "helo"`),
 * and each keys its entry in `docs/troubleshooting.md`.
 *
 * A code is `PLUMB_` and the thing the message is about, then what is wrong
 * with it (`PLUMB_PORT_TWICE`, `PLUMB_OPTION_TOO_SMALL`); a built-in servlet's
 * own messages are named after the servlet (`PLUMB_EXEC_TIMEOUT`,
 * `PLUMB_HTTP_STATIC_NOT_DIR`). A code never changes once released.
 *
 * A new message gets its code in four places, and the type checker and
 * `tests/troubleshooting_test.ts` say when one is missing: a line here; the
 * code as the first argument of the error (`new GraphError(code, message)`)
 * or of the log call (`log.log(level, code, message)`); an entry in
 * `docs/troubleshooting.md` that starts with the code; and a case in
 * `tests/troubleshooting_test.ts` that provokes it (or a reason there why
 * none can).
 * @module
 */

/**
 * Every code, with a one-line summary of what it says.
 *
 * @example
 * ```ts
 * import { CODES } from "./codes.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(CODES.PLUMB_SERVLET_UNKNOWN, "a node names a servlet that is neither built in nor a path");
 * ```
 */
export const CODES = {
  // Starting and stopping.
  PLUMB_STOPPING: "a signal asked the host to stop",
  PLUMB_ADMIN_LISTENING: "the admin listener's address, logged with --stdio",
  PLUMB_HOST_CLOSED: "an in-memory connection was asked of a host that is closing or closed",
  PLUMB_CHECK_WARNING: "the graph has a part that will have no effect (what --check warns of)",
  PLUMB_HARNESS_NO_INPUT: "the testing kit was given a servlet with no input port",
  PLUMB_IDLE_EXIT: "no connection for the --idle-exit time: the host stops",
  PLUMB_UNEXPECTED: "a failure plumb has no message for (a bug)",

  // The graph file.
  PLUMB_FILE_NOT_FOUND: "there is no graph file at the path given",
  PLUMB_FILE_UNREADABLE: "the graph file is there but cannot be read",
  PLUMB_FILE_NOT_JSON: "the graph file is not JSON",
  PLUMB_GRAPH_NOT_OBJECT: "the graph file's JSON is not an object",
  PLUMB_GRAPH_UNKNOWN_KEY: "the graph has a key plumb does not know",
  PLUMB_NODE_UNKNOWN_KEY: "a node has a key other than servlet and args",
  PLUMB_EDGE_UNKNOWN_KEY: "an edge has a key other than from and to",
  PLUMB_LISTENER_UNKNOWN_KEY: "a listener has a key other than module and options",
  PLUMB_GRAPH_NO_NODES: `"nodes" is missing, empty or not an object`,
  PLUMB_GRAPH_TOO_DEEP: "the graph nests objects and arrays more than 32 levels deep",
  PLUMB_GRAPH_TOO_LARGE: "the graph has more nodes, edges or listeners than plumb takes",
  PLUMB_GRAPH_NO_INPUT: `the graph has no "input"`,
  PLUMB_GRAPH_NO_OUTPUT: `the graph has no "output"`,
  PLUMB_GRAPH_NO_LISTENERS: "the graph has no listener and none was given on the command line",

  // Nodes and servlets.
  PLUMB_NODE_BAD_NAME: "a node name has characters a node name cannot have",
  PLUMB_NODE_NOT_OBJECT: "a node is not an object",
  PLUMB_NODE_NO_SERVLET: `a node's "servlet" is missing or not a string`,
  PLUMB_NODE_BAD_ARGS: `a node's "args" is not an array of strings`,
  PLUMB_NODE_BAD_ISOLATE: `a node's "isolate" is not {"deadline": seconds}`,
  PLUMB_NODE_TWICE: "a graph built in code adds two nodes of one name",
  PLUMB_SERVLET_UNKNOWN: "a node names a servlet that is neither built in nor a path",
  PLUMB_SERVLET_LOAD_FAILED: "a servlet module cannot be imported",
  PLUMB_SERVLET_SCHEME:
    "a node names a servlet by a scheme plumb does not load (data:, http:, ...)",
  PLUMB_SERVLET_TYPE_ERROR: "--check found a type error in a servlet file of the graph",
  PLUMB_SERVLET_NOT_TYPE_CHECKED:
    "--check may not run deno, so it did not type-check the servlet files",
  PLUMB_SERVLET_CHECK_EXCLUDED:
    "--check did not type-check a servlet file the deno configuration excludes",
  PLUMB_SERVLET_NOT_SERVLET: "a module's default export is not a servlet",
  PLUMB_SERVLET_INIT_FAILED: "a servlet's init threw",
  PLUMB_SERVLET_UNLOAD_FAILED: "a servlet's unload threw",
  PLUMB_SERVLET_UNLOAD_LATE: "a servlet's unload did not finish in time",
  PLUMB_ISOLATE_IN_CODE: "an isolated node's servlet is an object given in code, not a module",
  PLUMB_ISOLATE_DEADLINE: "an isolated node's exec passed its deadline: its worker was stopped",
  PLUMB_ISOLATE_CRASHED: "an isolated node's worker died while it ran a request",
  PLUMB_ISOLATE_PORTS_CHANGED: "an isolated node's fresh worker declared other ports",
  PLUMB_ISOLATE_UNSUPPORTED: "an isolated servlet used what cannot cross to its worker",

  // Ports and flags at init.
  PLUMB_PORT_NO_NAME: "init defined a port without a name",
  PLUMB_PORT_RESERVED: "init defined a port named like a signal output",
  PLUMB_PORT_TWICE: "init defined two ports of one name",
  PLUMB_PORT_ALIAS_NO_NAME: "a port's alias is not a non-empty string",
  PLUMB_PORT_ALIAS_RESERVED: "a port's alias is the name of a signal output",
  PLUMB_PORT_NAME_TAKEN: "a port's name is another port's alias",
  PLUMB_PORT_ALIAS_TAKEN: "a port's alias is another port's name or alias",
  PLUMB_PORT_BAD_FLAGS: "a port's flags are not made of plumb's flag constants",
  PLUMB_PORT_INPUT_FLAGS: "an input port has a flag only outputs take",
  PLUMB_PORT_STRAY_TARGET: "a port's flags name a shadow target without SHADOW",
  PLUMB_PORT_DISABLED_NOT_SHADOW: "a port that is not a shadow is DISABLED",
  PLUMB_PORT_BAD_SHADOW_TARGET: "a shadow's target is not an output declared before it",
  PLUMB_PORT_BAD_SHADOW_OF:
    "env.output's shadowOf is not a port declared before it, or is a shadow",
  PLUMB_PORT_BAD_TYPE: "a port's type is not a string",
  PLUMB_PORT_TYPE_CONFLICT:
    "two ports of a node declare pipe types of one name that extend different types",
  PLUMB_PORT_LATE: "a port was defined after init returned",
  PLUMB_STORE_BUCKET_NAME: "a servlet opened a store bucket whose name is not allowed",
  PLUMB_STORE_KEY: "a store key is empty or longer than 2048 bytes",

  // Edges and types.
  PLUMB_EDGES_NOT_ARRAY: `"edges" is not an array`,
  PLUMB_EDGE_NOT_OBJECT: "an edge is not an object",
  PLUMB_REF_NOT_STRING: "a port reference is not a string",
  PLUMB_REF_MALFORMED: `a port reference is not written "node.port"`,
  PLUMB_REF_NO_NODE: "a port reference names a node the graph does not have",
  PLUMB_REF_NO_PORT: "a port reference names a port its node does not have",
  PLUMB_REF_WRONG_DIRECTION: "an input is used where an output is needed, or the other way",
  PLUMB_REF_SIGNAL_OUTPUT: "the graph's output is a signal port",
  PLUMB_REF_USED_TWICE: "the graph's input or output port is also the end of an edge",
  PLUMB_EDGE_REPEATED: "one edge is listed twice",
  PLUMB_GRAPH_CYCLE: "the edges go round in a loop",
  PLUMB_TYPES_NOT_OBJECT: `"types" is not an object of type names`,
  PLUMB_TYPE_BUILT_IN: `"types" declares a built-in type again`,
  PLUMB_TYPE_REGISTERED: `"types" declares a type a servlet of the graph registers`,
  PLUMB_TYPE_CONFLICT: "two servlets register one type name as different types",
  PLUMB_TYPE_UNKNOWN_PARENT: "a type extends a type nobody declared",
  PLUMB_TYPE_LOOP: "types extend each other in a loop",
  PLUMB_TYPE_UNKNOWN: "a servlet gives a port a type the graph does not know",
  PLUMB_TYPE_MISMATCH: "an edge joins ports whose types do not convert",

  // Listeners and their options.
  PLUMB_LISTENERS_NOT_ARRAY: `"listeners" is not an array`,
  PLUMB_LISTENER_NOT_OBJECT: "a listener is not an object",
  PLUMB_LISTENER_NO_MODULE: `a listener's "module" is missing or not a string`,
  PLUMB_LISTENER_BAD_OPTIONS: `a listener's "options" is not an object`,
  PLUMB_MODULE_UNKNOWN: "a listener names a module plumb does not have",
  PLUMB_OPTION_UNKNOWN: "a listener has an option its module does not know",
  PLUMB_OPTION_TYPE: "a listener option has the wrong JSON type",
  PLUMB_OPTION_CHOICE: "a listener option is not one of its words",
  PLUMB_OPTION_NOT_WHOLE: "a listener option that counts has a fraction",
  PLUMB_OPTION_TOO_SMALL: "a listener option is below its smallest value",
  PLUMB_OPTION_TOO_LARGE: "a listener option is above its largest value",
  PLUMB_OPTION_REQUIRED: "a listener lacks an option its module needs",
  PLUMB_OPTION_BAD_ADDRESS: "an allow or deny entry is not an address or a range",
  PLUMB_ADDRESS_EMPTY: "an allow or deny entry is empty",
  PLUMB_ADDRESS_INVALID: "an allow or deny entry is not an IPv4 or IPv6 address",
  PLUMB_ADDRESS_ZONE: "an allow or deny entry has a zone index",
  PLUMB_ADDRESS_PREFIX_NOT_NUMBER: "a range's prefix length is not a whole number",
  PLUMB_ADDRESS_PREFIX_TOO_LONG: "a range's prefix length is longer than the address",
  PLUMB_ADDRESS_HOST_BITS: "a range has bits set after its prefix",
  PLUMB_LISTEN_REUSE_PORT: "reusePort needs deno run --unstable-net",
  PLUMB_LISTEN_IN_USE: "the listener's address is taken",
  PLUMB_UNIX_NOT_SOCKET: "a file that is not a socket is at a unix listener's path",
  PLUMB_UNIX_IN_USE: "another server listens on a unix listener's path",
  PLUMB_UNIX_UNSURE: "a socket at a unix listener's path may be in use",
  PLUMB_LISTEN_FD_BAD: "--listen-fd names no listening socket",
  PLUMB_FILE_LISTENER_OPEN: "the file listener cannot open its input or output",
  PLUMB_LISTEN_FAILED: "a tls listener could not listen on its address",
  PLUMB_OPTION_BAD_ALPN: "an alpn entry is not a protocol name",
  PLUMB_TLS_FILE_MISSING: "a tls listener's certificate or key file is not there",
  PLUMB_TLS_FILE_UNREADABLE: "a tls listener's certificate or key file cannot be read",
  PLUMB_TLS_CERT_NOT_PEM: "a tls listener's cert file holds no PEM certificate",
  PLUMB_TLS_CERT_INVALID: "a tls listener's certificate cannot be read as a certificate",
  PLUMB_TLS_KEY_NOT_PEM: "a tls listener's key file holds no PEM private key",
  PLUMB_TLS_KEY_ENCRYPTED: "a tls listener's key is encrypted with a passphrase",
  PLUMB_TLS_KEY_INVALID: "a tls listener's key cannot be read as a private key",
  PLUMB_TLS_KEY_MISMATCH: "a tls listener's key is not its certificate's key",

  // Command line and permissions.
  PLUMB_CLI_BAD_OPTION: "the command line has an unknown option or one without its value",
  PLUMB_CLI_NO_GRAPH: "the command line names no graph file",
  PLUMB_CLI_GRAPHS: "the command line names more than one graph file",
  PLUMB_CLI_PORT: "--port is not a port number",
  PLUMB_CLI_LISTEN_FD: "--listen-fd is not a file descriptor number",
  PLUMB_CLI_IDLE_EXIT: "--idle-exit is not a duration",
  PLUMB_CLI_LOG_LEVEL: "--log-level is not a level",
  PLUMB_CLI_LOG_FORMAT: "--log-format is not text or json",
  PLUMB_LOG_FILE_OPEN: "the --log-file cannot be opened",
  PLUMB_CLI_WORKERS: "--workers is not a number of workers",
  PLUMB_CLI_NOT_TCP: "--host, --port or --listen-fd, but the first listener is not tcp",
  PLUMB_CLI_ADMIN: "--admin is not HOST:PORT",
  PLUMB_CLI_ADMIN_PUBLIC: "--admin-public without --admin",
  PLUMB_STORE_URL: "--store is not a store URL, or its back end cannot use it",
  PLUMB_STORE_SCHEME: "--store names a back end plumb does not know",
  PLUMB_ADMIN_NOT_LOOPBACK: "the admin address is not loopback, and --admin-public was not given",
  PLUMB_ADMIN_LISTEN: "the admin address is taken or is not this machine's",
  PLUMB_PERMISSION_GRAPH: "deno may not read the graph file",
  PLUMB_PERMISSION_NET: "deno may not listen on a tcp address",
  PLUMB_PERMISSION_UNIX: "deno may not use a unix listener's socket file",
  PLUMB_PERMISSION_FILE_READ: "deno may not read the file listener's input",
  PLUMB_PERMISSION_FILE_WRITE: "deno may not write the file listener's output",
  PLUMB_PERMISSION_TLS_FILE: "deno may not read a tls listener's certificate or key",
  PLUMB_PERMISSION_ADMIN: "deno may not listen on the admin address",
  PLUMB_PERMISSION_LOG_FILE: "deno may not write the --log-file",
  PLUMB_PERMISSION: "something needed a permission deno was not given",

  // While serving.
  PLUMB_REQUEST_FAILED: "a servlet failed a request",
  PLUMB_NODE_STOPPED: "a node stopped because a node feeding it failed",
  PLUMB_UPSTREAM_FAILED: "what a node reads after a node upstream of it failed",
  PLUMB_LINE_TOO_LONG: "a client sent a line longer than maxMessageSize",
  PLUMB_UNHANDLED_REJECTION: "a promise was rejected with no handler, outside any request",
  PLUMB_UNCAUGHT_EXCEPTION: "code outside any request threw",
  PLUMB_CONN_WRITE_FAILED: "an ASYNC reply could not be written",
  PLUMB_CONN_PUSH_OVERFLOW: "a client did not read what a servlet pushed to it: closed",
  PLUMB_CONN_FAILED: "a connection broke while being served",
  PLUMB_TIMEOUT_REQUEST: "a request took longer than requestTimeout",
  PLUMB_TIMEOUT_WRITE: "a client did not read its reply for writeTimeout",
  PLUMB_TIMEOUT_IDLE: "a kept-alive connection was idle for ttl",
  PLUMB_DEADLINE: "a deadline a servlet set on a connection passed (http/parser's 408)",
  PLUMB_CONN_ENDED: "a connection ended",
  PLUMB_CONN_DENIED: "the allow and deny rules refused a client",
  PLUMB_CONN_REFUSED: "a connection limit refused a client",
  PLUMB_CONN_WAITING: "maxConnections are open; new connections wait",
  PLUMB_CONN_EVICTED: "while full, connections with no reply after evictAfter were closed",
  PLUMB_CONN_NOT_LOGGED: "more refused or denied connections than are logged a second",
  PLUMB_ACCEPT_FAILED: "the listener could not accept a connection",
  PLUMB_ACCEPT_GONE: "a connection was reset before the listener accepted it",
  PLUMB_PROXY_UNTRUSTED: "a connection to a proxyProtocol listener came from no trusted proxy",
  PLUMB_PROXY_NO_HEADER:
    "a connection to a proxyProtocol listener did not start with a PROXY header",
  PLUMB_PROXY_MALFORMED: "a connection's PROXY header is malformed",
  PLUMB_PROXY_LATE: "a connection's PROXY header did not come whole in time",
  PLUMB_PROXY_CLOSED: "a connection closed before its PROXY header was whole",
  PLUMB_TLS_HANDSHAKE_FAILED: "a client did not complete the TLS handshake",
  PLUMB_TLS_EXPIRED: "a tls listener's certificate has expired",

  // NATS.
  PLUMB_NATS_URL: "a NATS server URL is not nats://HOST:PORT",
  PLUMB_NATS_CONNECT: "no NATS server answered as the host started",
  PLUMB_NATS_SUBJECT: "a NATS subject is not one (empty tokens, spaces, a misplaced wildcard)",
  PLUMB_NATS_SUBJECT_LONG: "a nats listener names a subject too long for the server",
  PLUMB_NATS_QUEUE: "a nats listener's queue group is not one word",
  PLUMB_NATS_DISCONNECTED: "the host lost its NATS server; it serves local clients and retries",
  PLUMB_NATS_RECONNECTED: "the host reached its NATS server again",
  PLUMB_NATS_PUBLISH_ARGS:
    "nats/publish's arguments are not --servers URL, --subject SUBJECT and --request SECONDS",
  PLUMB_NATS_REPLY_TOO_LONG: "a nats listener's reply was longer than the server's max_payload",
  PLUMB_NATS_REQUEST_FAILED: "a nats/publish --request had no reply in time, or no one to answer",
  PLUMB_STORE_NATS_FAILED: "a NATS KV store operation failed (the server is unreachable)",

  // Reload.
  PLUMB_RELOADED: "the graph was reloaded",
  PLUMB_RELOADED_LISTENERS_KEPT: "the graph was reloaded, but changed listeners need a restart",
  PLUMB_GRAPH_UNUSED: "an old graph's last connection closed; its nodes are unloaded",
  PLUMB_RELOAD_FAILED: "a reload's graph cannot be served; the old one is kept",
  PLUMB_RELOAD_UNEXPECTED: "a reload could not be tried",
  PLUMB_TLS_RELOADED: "a reload read a tls listener's certificate and key again",
  PLUMB_TLS_RELOAD_KEPT:
    "a reload found a tls listener's certificate or key bad; the old pair is kept",

  // Workers.
  PLUMB_WORKERS_EXCLUSIVE: "--workers with --stdio, --listen-fd or --idle-exit",
  PLUMB_PERMISSION_WORKERS: "deno may not read plumb's modules for the workers",
  PLUMB_PERMISSION_ISOLATE: "deno may not read plumb's modules for an isolated node's worker",
  PLUMB_WORKERS_NOT_TCP: "--workers with a listener that is not tcp",
  PLUMB_WORKER_FAILED: "a worker failed as it started",
  PLUMB_PERMISSION_WORKERS_RUN: "deno may not start the worker processes of --workers",
  PLUMB_CLI_WORKER_HEAP: "--worker-heap is not a number of MiB, or comes without --workers",
  PLUMB_WORKER_EXITED: "a worker process exited unexpectedly and is restarted",
  PLUMB_WORKER_RESTARTED: "a worker process was restarted and serves again",
  PLUMB_WORKER_UNRESPONSIVE: "a worker process stopped answering the watchdog and is killed",
  PLUMB_CLI_WORKER_WATCHDOG: "--worker-watchdog is not a duration",
  PLUMB_WORKER_GAVE_UP: "a worker process exited too often and is not restarted",
  PLUMB_WORKER_STDERR: "a line a worker process wrote on standard error",
  PLUMB_ADMIN_NO_WORKER: "the admin page asked the workers for their graph and none answered",
  PLUMB_STORE_RELAY_GONE:
    "a worker's store operation failed: the main side holding the store is gone",

  // Exec-time API misuse.
  PLUMB_PIPE_AFTER_END: "a servlet used a port after its exec returned",
  PLUMB_PIPE_NO_PUSH: "connection.handle() on a request with no client behind it (the harness)",
  PLUMB_PIPE_KEEPALIVE_AFTER_END: "a servlet called connection.keepAlive after its exec returned",
  PLUMB_PIPE_UNKNOWN_PORT: "a servlet used a port its node did not declare",
  PLUMB_PIPE_WRONG_DIRECTION: "a servlet wrote an input or read an output",
  PLUMB_PIPE_WRITE_SHADOW: "a servlet wrote a SHADOW port itself",
  PLUMB_LINE_STEP: "a servlet's line step wrote a port twice, or text that is not one line",
  PLUMB_PIPE_NOT_JSON: "readValue read a line that is not JSON",
  PLUMB_PIPE_NULL_VALUE: "writeValue was given null or undefined",
  PLUMB_VALUE_NOT_JSON: "a value holding a stream or a function had to be written as JSON",
  PLUMB_VALUE_TYPE: "a value JSON has no text for had to be written as JSON",
  PLUMB_PIPE_EOM_OUTPUT: "EOM on an output port",
  PLUMB_PIPE_EOM_ARGS: "EOM without the bytes read and an offset in them",
  PLUMB_PIPE_DEADLINE_ARGS: "DEADLINE without null or {seconds, reason, reply?}",
  PLUMB_PIPE_NO_OPERATION: "a module operation the port's module does not answer",
  PLUMB_PIPE_UNKNOWN_CNTL: "a cntl operation plumb does not know",
  PLUMB_PIPE_FIXED_FLAG: "SET_FLAG or CLR_FLAG of the direction or SHADOW at exec time",
  PLUMB_PIPE_DISABLE_NOT_SHADOW: "SET_FLAG DISABLED on a port that is not a shadow",
  PLUMB_PIPE_ENABLE_NOT_SHADOW: "task.enable on a port that is not a shadow",
  PLUMB_PIPE_UNKNOWN_FLAGS: "SET_FLAG or CLR_FLAG with bits that are no flag",
  PLUMB_PIPE_SHADOW_DISABLED_LATE: "a shadow was disabled after it carried bytes",
  PLUMB_PIPE_SHADOW_ENABLED_LATE: "a shadow was enabled after its target was written",
  PLUMB_PIPE_EOM_SHADOWED:
    "EOM gave back more than the last read took, past what its shadows carried",
  PLUMB_REQUEST_DEADLOCK: "every running node of a request waits on a bounded pipe",
  PLUMB_PIPE_READ_PENDING: "a read was still waiting when its task ended",

  // Servlets' own init errors.
  PLUMB_PATH_RELATIVE: "a servlet was given a relative path in a graph that is not a file",
  PLUMB_TRANSFORM_UNKNOWN: "transform's argument names no transform",
  PLUMB_DATAFLOW_COUNT: "dataflow/dup or dataflow/firstnonempty's count is not 1 to 1000",
  PLUMB_DATAFLOW_REGEXP: "a dataflow/demux argument is not a regular expression",
  PLUMB_DATAFLOW_ROUTE_NAME_TAKEN:
    "a route name of dataflow/demux or http/router is a port the node has anyway",
  PLUMB_DATAFLOW_ROUTE_NAME_TWICE: "dataflow/demux or http/router is given one route name twice",
  PLUMB_ELIZA_READ: "eliza cannot read its script file",
  PLUMB_ELIZA_SCRIPT: "eliza's script is not a valid ELIZA script",
  PLUMB_CHAT_ARGS:
    "chat's arguments are not --idle SECONDS, --max-message BYTES, --nats URL and --room NAME",
  PLUMB_CHAT_NO_CONNECTION: "chat got a request that has no connection to write to",
  PLUMB_KV_ARGS: "kv's arguments are not --bucket NAME",
  PLUMB_JSON_PARSE_ARGS: "json/parse was given arguments",
  PLUMB_JSON_STRINGIFY_ARG: "json/stringify was given an unknown argument",
  PLUMB_JSON_STRINGIFY_FIELD: "json/stringify's --field has no name",
  PLUMB_EXEC_NO_PROGRAM: "exec names no program",
  PLUMB_EXEC_UNKNOWN_OPTION: "exec has an option it does not know",
  PLUMB_EXEC_NO_VALUE: "an exec option lacks its value",
  PLUMB_EXEC_BAD_TIMEOUT: "exec's --timeout is not a number of seconds",
  PLUMB_EXEC_EMPTY_CWD: "exec's --cwd is empty",
  PLUMB_EXEC_NO_CWD: "exec's --cwd is not there",
  PLUMB_EXEC_CWD_NOT_DIR: "exec's --cwd is not a directory",
  PLUMB_EXEC_BAD_COUNT: "exec's --max-running or --max-waiting is not a whole number",
  PLUMB_EXEC_BAD_ENV: "an exec --env is not NAME or NAME=VALUE",
  PLUMB_PERMISSION_RUN: "deno may not run exec's program",
  PLUMB_PERMISSION_ENV: "deno may not read a variable exec's --env passes on",
  PLUMB_HTTP_PARSER_ARG: "http/parser was given an unknown argument",
  PLUMB_HTTP_PARSER_LIMIT: "an http/parser limit is not a whole number of bytes",
  PLUMB_HTTP_PARSER_TIMEOUT: "an http/parser deadline is not a number of seconds",
  PLUMB_HTTP_ROUTER_ROUTE: "an http/router argument is not a route",
  PLUMB_HTTP_ROUTER_PATH: "an http/router route's path cannot be normalised",
  PLUMB_HTTP_STATIC_NO_VALUE: "an http/static option lacks its value",
  PLUMB_HTTP_STATIC_INDEX: "http/static's --index is not a file name",
  PLUMB_HTTP_STATIC_MAX_AGE: "http/static's --max-age is not whole seconds",
  PLUMB_HTTP_STATIC_ARG: "http/static was given an unknown argument or a second root",
  PLUMB_HTTP_STATIC_NO_ROOT: "http/static names no root directory",
  PLUMB_PERMISSION_STATIC: "deno may not read http/static's root",
  PLUMB_HTTP_STATIC_NOT_DIR: "http/static's root is not a directory",

  // Servlets' own request failures.
  PLUMB_HTTP_RENDER_STATUS: "a response's status is not a 3-digit status code",
  PLUMB_HTTP_RENDER_REASON: "a response's reason phrase holds a line break",
  PLUMB_HTTP_RENDER_HEADER: "a response's header holds a line break",
  PLUMB_HTTP_RENDER_LENGTH: "a streamed body was not as long as its length said",
  PLUMB_HTTP_BODY_STREAM: "a request body streamed to a handler could not be read to its end",
  PLUMB_JSON_INVALID: "json/parse got a line that is not one JSON value",
  PLUMB_JSON_STRINGIFY_NOT_OBJECT: "json/stringify --field got a value that is not an object",
  PLUMB_EXEC_STATUS: "exec's program exited with a failure status",
  PLUMB_EXEC_SIGNAL: "exec's program was killed by a signal",
  PLUMB_EXEC_TIMEOUT: "exec's program ran longer than --timeout",
  PLUMB_EXEC_PASS_ON: "exec could not pass on its program's output",
  PLUMB_EXEC_SPAWN: "exec's program could not be started",
  PLUMB_EXEC_FULL: "exec runs --max-running programs and --max-waiting wait: turned away",
  PLUMB_EXEC_NO_TURN: "exec had no turn to run within the program's --timeout",
  PLUMB_EXEC_UNLOADING: "exec's program was killed because the node unloads",
  PLUMB_EXEC_CANCELLED: "exec's program was killed because its request was cancelled",
} as const satisfies Record<`PLUMB_${string}`, string>;

/** A code of {@linkcode CODES}. */
export type Code = keyof typeof CODES;
