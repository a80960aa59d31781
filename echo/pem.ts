/**
 * Reading the PEM files that TLS flags name.
 *
 * @module
 */

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
