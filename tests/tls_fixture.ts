/**
 * A throwaway public key infrastructure for the TLS tests, made with the
 * `openssl` command line in `tests/.tmp`: a certificate authority, server
 * certificates it signs for `localhost` and `127.0.0.1`, and a second
 * authority no client should trust; and a line client that talks TLS.
 * @module
 */
import { SocketClient } from "../testing/mod.ts";
import { path } from "./helpers.ts";

const decoder = new TextDecoder();

/** What a finished command printed. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` with `args`, `input` on its standard input. */
export async function run(command: string, args: string[], input = ""): Promise<Ran> {
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input)).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** True when `command` is on the PATH. */
export async function has(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", `command -v ${command}`] }).output())
      .success;
  } catch {
    return false;
  }
}

/** Runs `openssl` and fails with what it printed unless it succeeded. */
async function openssl(args: string[]): Promise<void> {
  const result = await run("openssl", args);
  if (result.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr}`);
}

/** A certificate authority: its certificate and key files. */
export interface Authority {
  cert: string;
  key: string;
}

/** A server certificate and its key files. */
export interface ServerPair {
  cert: string;
  key: string;
}

/** Makes a certificate authority named `name` in `dir`. */
export async function makeAuthority(dir: string, name: string): Promise<Authority> {
  const cert = `${dir}/${name}.crt`;
  const key = `${dir}/${name}.key`;
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    `/CN=plumb test ${name}`,
  ]);
  return { cert, key };
}

/**
 * Makes a certificate for `localhost` and `127.0.0.1` signed by `authority`,
 * as `dir/NAME.crt` and `dir/NAME.key`, with `organization` in its subject
 * (so a test can tell two certificates apart), valid for `days` (-1: expired yesterday).
 */
export async function issue(
  authority: Authority,
  dir: string,
  name: string,
  organization = "plumb tests",
  days = 2,
): Promise<ServerPair> {
  const cert = `${dir}/${name}.crt`;
  const key = `${dir}/${name}.key`;
  const request = `${dir}/${name}.csr`;
  const extensions = `${dir}/${name}.ext`;
  await Deno.writeTextFile(
    extensions,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await openssl([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    request,
    "-subj",
    `/O=${organization}/CN=localhost`,
  ]);
  await openssl([
    "x509",
    "-req",
    "-in",
    request,
    "-CA",
    authority.cert,
    "-CAkey",
    authority.key,
    "-CAcreateserial",
    "-out",
    cert,
    "-days",
    String(days),
    "-extfile",
    extensions,
  ]);
  return { cert, key };
}

/** The test PKI: a trusted authority and its server certificate, and an authority nobody trusts. */
export interface Pki {
  /** The directory of every file. */
  dir: string;
  /** The authority clients trust. */
  ca: Authority;
  /** An authority clients do not trust. */
  otherCa: Authority;
  /** A server certificate for localhost from `ca`. */
  server: ServerPair;
}

/** Makes the test PKI afresh in `tests/.tmp/NAME`. */
export async function makePki(name: string): Promise<Pki> {
  const dir = path(`tests/.tmp/${name}`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const ca = await makeAuthority(dir, "ca");
  const otherCa = await makeAuthority(dir, "other-ca");
  return { dir, ca, otherCa, server: await issue(ca, dir, "server") };
}

/** A line client over TLS (a `Deno.connectTls` connection, or TLS started over one). */
export class TlsClient extends SocketClient<Deno.TlsConn> {
  /**
   * Connects to `127.0.0.1:port` and starts TLS for the name `localhost`
   * (sent as SNI), trusting `caFile`, offering `alpn` if given.
   */
  static async connect(port: number, caFile: string, alpn?: string[]): Promise<TlsClient> {
    return await TlsClient.over(await Deno.connect({ hostname: "127.0.0.1", port }), caFile, alpn);
  }

  /** Starts TLS over `conn` (after a PROXY header, say), trusting `caFile`. */
  static async over(conn: Deno.TcpConn, caFile: string, alpn?: string[]): Promise<TlsClient> {
    const tls = await Deno.startTls(conn, {
      hostname: "localhost",
      caCerts: [await Deno.readTextFile(caFile)],
      ...(alpn === undefined ? {} : { alpnProtocols: alpn }),
    });
    return new TlsClient(tls);
  }
}

/** The subject of the certificate a TLS server at `127.0.0.1:port` presents, as `openssl` prints it. */
export async function presentedSubject(port: number, caFile: string): Promise<string> {
  const result = await run("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    "localhost",
    "-CAfile",
    caFile,
    "-verify_return_error",
  ]);
  const subject = /^subject=(.*)$/m.exec(result.stdout)?.[1];
  if (subject === undefined) {
    throw new Error(`no certificate from 127.0.0.1:${port}: ${result.stderr}`);
  }
  return subject;
}
