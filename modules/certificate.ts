/**
 * A TLS listener's certificate and private key: read from their PEM files,
 * checked (each is what it says, and the key is the certificate's), and made
 * into the context new TLS sessions are started with. Every problem is one
 * line naming the file.
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";
import type { Code } from "../kernel/codes.ts";
import { PermissionHint, PlumbError } from "../kernel/errors.ts";

/** A certificate file or a key file that cannot be used; the message names the file and why. */
export class CertificateError extends PlumbError {
  /**
   * Makes the error.
   * @param code the code of the message
   * @param message one line: `certificate PATH: what is wrong`
   */
  constructor(code: Code, message: string) {
    super(code, message);
    this.name = "CertificateError";
  }
}

/** A certificate and its key, checked, ready for TLS sessions. */
export interface CertifiedKey {
  /** What new TLS sessions are started with. */
  readonly context: SecureContext;
  /** The certificate's subject (`CN=localhost`). */
  readonly subject: string;
  /** When the certificate stops being valid, as the certificate says it (`Dec  6 19:29:12 2027 GMT`). */
  readonly validTo: string;
  /** True when that time has passed. */
  readonly expired: boolean;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----/;

/** Reads a PEM file; `what` (`certificate`, `key`) names it in messages. */
async function readPem(path: string, what: string): Promise<string> {
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
    throw new PermissionHint(
      "PLUMB_PERMISSION_TLS_FILE",
      `cannot read the ${what} ${path}`,
      `--allow-read=${path}`,
    );
  }
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CertificateError("PLUMB_TLS_FILE_MISSING", `${what} ${path}: no such file`);
    }
    throw new CertificateError(
      "PLUMB_TLS_FILE_UNREADABLE",
      `${what} ${path}: cannot read it: ${(error as Error).message}`,
    );
  }
}

/** A certificate's subject on one line: `O=plumb, CN=localhost`. */
function subjectOf(certificate: X509Certificate): string {
  return certificate.subject.replaceAll("\n", ", ");
}

/** The first line of an error's message, for a one-line reason. */
function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

/**
 * Reads and checks the certificate chain at `certPath` and the private key
 * at `keyPath` (PEM files): the first certificate of the chain is the
 * server's, and the key must be its key.
 * @throws {CertificateError} naming the file and what is wrong with it
 * @throws {PermissionHint} when a file may not be read, with the flag to add
 */
export async function readCertifiedKey(certPath: string, keyPath: string): Promise<CertifiedKey> {
  const [certText, keyText] = [
    await readPem(certPath, "certificate"),
    await readPem(keyPath, "key"),
  ];
  const first = PEM_CERTIFICATE.exec(certText)?.[0];
  if (first === undefined) {
    throw new CertificateError(
      "PLUMB_TLS_CERT_NOT_PEM",
      `certificate ${certPath}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)`,
    );
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(first);
  } catch (error) {
    throw new CertificateError(
      "PLUMB_TLS_CERT_INVALID",
      `certificate ${certPath}: not a valid certificate: ${firstLine(error)}`,
    );
  }
  const keyKind = PEM_KEY.exec(keyText)?.[1];
  if (keyKind === undefined) {
    throw new CertificateError(
      "PLUMB_TLS_KEY_NOT_PEM",
      `key ${keyPath}: no PEM private key in it (-----BEGIN PRIVATE KEY-----)`,
    );
  }
  if (keyKind === "ENCRYPTED PRIVATE KEY") {
    throw new CertificateError(
      "PLUMB_TLS_KEY_ENCRYPTED",
      `key ${keyPath}: the key is encrypted; give the key without a passphrase ` +
        `(openssl pkey -in KEY -out PLAIN)`,
    );
  }
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(createPrivateKey(keyText));
  } catch (error) {
    throw new CertificateError(
      "PLUMB_TLS_KEY_INVALID",
      `key ${keyPath}: not a valid private key: ${firstLine(error)}`,
    );
  }
  if (!matches) {
    throw new CertificateError(
      "PLUMB_TLS_KEY_MISMATCH",
      `key ${keyPath} is not the key of certificate ${certPath} (${subjectOf(certificate)})`,
    );
  }
  return {
    context: createSecureContext({ cert: certText, key: keyText }),
    subject: subjectOf(certificate),
    validTo: certificate.validTo,
    expired: Date.parse(certificate.validTo) < Date.now(),
  };
}
