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

/** Collects echoes as they come back. */
class Echoes implements DatagramProtocol {
  #waiting: ((data: Uint8Array) => void) | null = null;
  #early: Uint8Array[] = [];

  datagramReceived(data: Uint8Array): void {
    if (this.#waiting) this.#waiting(data);
    else this.#early.push(data);
  }

  /** The next echo, or null after `ms`. */
  next(ms: number): Promise<Uint8Array | null> {
    const early = this.#early.shift();
    if (early) return Promise.resolve(early);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = null;
        resolve(null);
      }, ms);
      this.#waiting = (data) => {
        clearTimeout(timer);
        this.#waiting = null;
        resolve(data);
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
  try {
    const address = isIP(options.host)
      ? options.host
      : (await lookup(options.host)).address;
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
      const bytes = encoder.encode(message);
      transport.sendto(bytes);
      log.debug("sending {data}", () => ({
        data: bytesRepr(bytes, options.logBytes),
      }));
      const echo = await protocol.next(options.timeout * 1000);
      if (echo === null) {
        throw new ProgramError(
          `datagram ${
            i + 1
          } of ${options.messages.length} got no echo from ${where} within ${options.timeout} s`,
        );
      }
      log.debug("received {data}", () => ({
        data: bytesRepr(echo, options.logBytes),
      }));
    }
  } finally {
    transport.close();
    await transport.closed;
  }
}
