/**
 * Reading the PEM files that TLS flags name.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { describeError, ProgramError } from "./errors.ts";

/**
 * Reads a PEM file named by a flag, which must hold what the flag needs: a
 * certificate, or a private key.
 *
 * @example
 * ```ts ignore
 * const cert = await readPemFile("--tls-cert", "cert.pem", "certificate");
 * ```
 *
 * @throws {ProgramError} with one line naming the flag and the file.
 */
export async function readPemFile(
  flag: string,
  path: string,
  kind: "certificate" | "private key",
): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : describeError(error);
    throw new ProgramError(`cannot read ${flag} ${path}: ${why}`);
  }
  if (!text.includes("-----BEGIN ")) {
    throw new ProgramError(`${flag} ${path} is not a PEM file`);
  }
  const certificate = text.includes("-----BEGIN CERTIFICATE-----");
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  if (kind === "certificate" && !certificate) {
    throw new ProgramError(
      `${flag} ${path} holds no certificate${
        key ? " (it is a private key)" : ""
      }`,
    );
  }
  if (kind === "private key" && !key) {
    throw new ProgramError(
      `${flag} ${path} holds no private key${
        certificate ? " (it is a certificate)" : ""
      }`,
    );
  }
  return text;
}

/**
 * What a log line says of a PEM certificate (the first of a chain): its
 * subject, its names, and when it expires.
 *
 * @example
 * ```ts ignore
 * describeCertificate(pem); // "CN=localhost (DNS:localhost), valid until 2027-01-06T23:32:39Z"
 * ```
 */
export function describeCertificate(pem: string): string {
  try {
    const certificate = new X509Certificate(pem);
    const names = certificate.subjectAltName
      ? ` (${certificate.subjectAltName})`
      : "";
    const until = certificate.validToDate.toISOString().replace(".000Z", "Z");
    return `${
      certificate.subject.replaceAll("\n", ", ")
    }${names}, valid until ${until}`;
  } catch (error) {
    return `a certificate that does not parse (${describeError(error)})`;
  }
}
