/**
 * The echo client over UDP (`main_client.ts --udp`): each message goes as
 * one datagram, and its echo is awaited before the next is sent.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  createDatagramEndpoint,
  type DatagramProtocol,
  type DatagramTransport,
} from "@protocols/core";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { bytesRepr } from "./bytes_repr.ts";
import { EchoCheck } from "./echo_check.ts";
import { describeError, ProgramError } from "./errors.ts";

/** What the UDP client needs to know. */
export interface UdpClientOptions {
  /** The server's name or address. */
  host: string;
  /** The server's UDP port. */
  port: number;
  /** The messages, one datagram each. */
  messages: string[];
  /** Seconds to wait for each echo. */
  timeout: number;
  /** Bytes of each datagram shown in the log. */
  logBytes: number;
}

/** The largest UDP payload over IPv4 (65,535 less the IP and UDP headers). */
const MAX_DATAGRAM_IPV4 = 65507;
/** The largest UDP payload over IPv6 (65,535 less the UDP header). */
const MAX_DATAGRAM_IPV6 = 65527;

/** Collects echoes, and send errors, as they come back. */
class Echoes implements DatagramProtocol {
  #waiting: ((data: Uint8Array | Error) => void) | null = null;
  #early: (Uint8Array | Error)[] = [];

  datagramReceived(data: Uint8Array): void {
    this.#deliver(data);
  }

  errorReceived(error: Error): void {
    this.#deliver(error);
  }

  #deliver(item: Uint8Array | Error): void {
    if (this.#waiting) this.#waiting(item);
    else this.#early.push(item);
  }

  /** The next echo or send error, or null after `ms`. */
  next(ms: number): Promise<Uint8Array | Error | null> {
    const early = this.#early.shift();
    if (early) return Promise.resolve(early);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = null;
        resolve(null);
      }, ms);
      this.#waiting = (item) => {
        clearTimeout(timer);
        this.#waiting = null;
        resolve(item);
      };
    });
  }
}

/**
 * Sends each message as a datagram and logs its echo, as the TCP client
 * logs; resolves once every echo is back.
 *
 * @example
 * ```ts ignore
 * await runUdpClient({ host: "localhost", port: 10000, messages: ["hi"], timeout: 2, logBytes: 64 });
 * ```
 *
 * @throws {ProgramError} naming the first datagram whose echo did not come
 * back within the timeout, or why the endpoint could not be opened.
 */
export async function runUdpClient(options: UdpClientOptions): Promise<void> {
  const log = getLogger(["EchoClient"]);
  const where = `${options.host} port ${options.port} (UDP)`;
  let transport: DatagramTransport;
  let protocol: Echoes;
  let max = MAX_DATAGRAM_IPV4;
  try {
    const address = isIP(options.host)
      ? options.host
      : (await lookup(options.host)).address;
    if (isIP(address) === 6) max = MAX_DATAGRAM_IPV6;
    ({ transport, protocol } = await createDatagramEndpoint(
      () => new Echoes(),
      {
        localAddr: {
          hostname: isIP(address) === 6 ? "::" : "0.0.0.0",
          port: 0,
        },
        remoteAddr: { hostname: address, port: options.port },
      },
    ));
  } catch (error) {
    if (error instanceof Deno.errors.NotSupported) {
      throw new ProgramError(
        `${error.message}: deno run --allow-net --unstable-net main_client.ts --udp`,
      );
    }
    throw new ProgramError(
      `cannot send to ${where}: ${describeError(error)}`,
    );
  }
  try {
    log.debug("sending to {where}", { where });
    const encoder = new TextEncoder();
    for (const [i, message] of options.messages.entries()) {
      const which = `datagram ${i + 1} of ${options.messages.length}`;
      const bytes = encoder.encode(message);
      if (bytes.length > max) {
        throw new ProgramError(
          `${which} is ${bytes.length} bytes: too long for one UDP datagram (at most ${max} bytes)`,
        );
      }
      transport.sendto(bytes);
      log.debug("sending {data}", () => ({
        data: bytesRepr(bytes, options.logBytes),
      }));
      const echo = await protocol.next(options.timeout * 1000);
      if (echo === null) {
        throw new ProgramError(
          `${which} got no echo from ${where} within ${options.timeout} s`,
        );
      }
      if (echo instanceof Error) {
        throw new ProgramError(
          `${which} could not be sent to ${where}: ${describeError(echo)}`,
        );
      }
      log.debug("received {data}", () => ({
        data: bytesRepr(echo, options.logBytes),
      }));
      // Compared as the TCP client compares: a byte that differs, or more
      // than was sent; or, short, where the echo ends.
      const check = new EchoCheck();
      check.sent(bytes);
      check.received(echo);
      const at = check.firstDifference ??
        (echo.length < bytes.length ? echo.length : null);
      if (at !== null) {
        throw new ProgramError(
          `the echo of ${which} from ${where} differs from what was sent at byte ${at}: ${echo.length} bytes came back for ${bytes.length} sent`,
        );
      }
    }
  } finally {
    transport.close();
    await transport.closed;
  }
}
