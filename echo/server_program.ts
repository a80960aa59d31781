/**
 * The echo server program behind main_server.ts: listen, log the seed's
 * lines, shut down gracefully on SIGINT, SIGTERM or SIGQUIT; SIGHUP reloads
 * the TLS certificate (and stops a server without TLS gracefully).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  AddressRanges,
  createDatagramEndpoint,
  createServer,
  type DatagramTransport,
  type Server,
  type TlsServerOptions,
} from "@protocols/core";
import { EchoServer, UdpEchoServer } from "./echo.ts";
import { startupLogger } from "./logging.ts";
import { describeError, EXIT_OK, ProgramError, UsageError } from "./errors.ts";
import {
  type CommonConfig,
  type FlagValues,
  parseUnixPath,
  UNIX_FLAG,
} from "./flags.ts";
import { parseCount, parseSeconds } from "./parse.ts";
import { describeCertificate, readPemFile } from "./pem.ts";
import {
  type Need,
  readAccess,
  socketAccess,
  unstableNet,
} from "./permissions.ts";
import type { Program } from "./program.ts";
import {
  announceTrust,
  type ServerConfig,
  serverOptions,
  type TlsFiles,
} from "./server_config.ts";
import { runUntilSignal, shutDown } from "./shutdown.ts";
import { runWorkers, workerFiles } from "./workers.ts";

export type { ServerConfig } from "./server_config.ts";

/** Reads `--workers` (0: one per core); only for plain TCP. */
function parseWorkers(values: FlagValues, otherTransport: boolean): number {
  if (values.workers === undefined) return 1;
  const n = parseCount("--workers", String(values.workers), 0);
  const count = n === 0 ? navigator.hardwareConcurrency : n;
  if (count > 1 && otherTransport) {
    throw new UsageError(
      "--workers is for TCP: it cannot be used with --unix, --udp or --tls-cert",
    );
  }
  return count;
}

/** Reads a number of seconds that must be more than 0. */
function parsePositiveSeconds(flag: string, text: string): number {
  const value = parseSeconds(flag, text);
  if (value === 0) throw new UsageError(`${flag} must be more than 0 seconds`);
  return value;
}

/** The UDP echo server: until a stopping signal (see `SIGNALS`). */
async function runUdp(config: ServerConfig): Promise<number> {
  let transport: DatagramTransport;
  try {
    ({ transport } = await createDatagramEndpoint(
      () => new UdpEchoServer({ logBytes: config.logBytes }),
      {
        localAddr: { hostname: config.host, port: config.port },
      },
    ));
  } catch (error) {
    if (error instanceof Deno.errors.NotSupported) {
      throw new ProgramError(
        `${error.message}: deno run --allow-net --unstable-net main_server.ts --udp`,
      );
    }
    throw new ProgramError(
      `cannot listen on ${config.host} port ${config.port} (UDP): ${
        describeError(error)
      }`,
    );
  }
  await runUntilSignal(
    () =>
      startupLogger().info("starting up on {host} port {port}", {
        host: config.host,
        port: transport.getExtraInfo<Deno.NetAddr>("sockname")!.port,
      }),
    async () => {
      transport.close();
      await transport.closed;
      return 0;
    },
    config.grace,
  );
  return EXIT_OK;
}

/**
 * The echo server program.
 *
 * @example
 * ```ts ignore
 * import { main } from "./program.ts";
 * import { serverProgram } from "./server_program.ts";
 *
 * Deno.exit(await main(serverProgram, ["--port", "0"]));
 * ```
 */
export const serverProgram: Program<ServerConfig> = {
  name: "echo-server",
  task: "server",
  summary:
    "Echo every byte back to each client, logging each step as asyncio's echo server example does.",
  flags: {
    grace: {
      type: "string",
      value: "SECONDS",
      help:
        "at SIGINT, SIGTERM or SIGQUIT, time open connections get to finish (default: 5)",
    },
    "max-connections": {
      type: "string",
      value: "N",
      help:
        "most connections served at once, all workers together; more are closed (default: 10000)",
    },
    "max-connections-per-ip": {
      type: "string",
      value: "N",
      help:
        "most connections at once from one IP address (the PROXY header's client with --proxy-protocol); 0 = no limit (default: 0)",
    },
    "handshake-timeout": {
      type: "string",
      value: "SECONDS",
      help:
        "close a connection whose TLS handshake or PROXY header is not done by then (default: 10)",
    },
    "idle-timeout": {
      type: "string",
      value: "SECONDS",
      help:
        "close a connection with no traffic either way for this long; 0 = never (default: 300)",
    },
    "tls-cert": {
      type: "string",
      value: "FILE",
      help:
        "serve TLS with this PEM certificate chain (needs --tls-key and --allow-read)",
    },
    "tls-key": {
      type: "string",
      value: "FILE",
      help: "the PEM private key of --tls-cert",
    },
    "tls-sni": {
      type: "string",
      multiple: true,
      value: "NAME=CERT,KEY",
      help:
        "with --tls-cert: serve this certificate and key to clients that ask for NAME (SNI; *.example.com for a wildcard)",
    },
    "tls-client-ca": {
      type: "string",
      value: "FILE",
      help:
        "with --tls-cert: require a client certificate signed by a CA in this PEM file (mutual TLS)",
    },
    keepalive: {
      type: "boolean",
      help: "turn TCP keepalive on for each connection",
    },
    unix: UNIX_FLAG,
    workers: {
      type: "string",
      value: "N",
      help:
        "N workers share the port (Linux SO_REUSEPORT, needs --unstable-net); 0 = one per core (default: 1)",
    },
    "proxy-protocol": {
      type: "boolean",
      help:
        "expect a PROXY protocol v1/v2 header (HAProxy, nginx) and log the real client",
    },
    "access-log": {
      type: "boolean",
      help:
        "log one info line per connection when it ends: client, outcome, duration, bytes each way",
    },
    "proxy-protocol-from": {
      type: "string",
      multiple: true,
      value: "CIDR",
      help:
        "with --proxy-protocol: only these proxies may send the header, e.g. 10.0.0.0/8 (default: any peer)",
    },
    udp: {
      type: "boolean",
      help: "echo UDP datagrams instead (needs Deno's --unstable-net)",
    },
  },
  configure(values: FlagValues, common: CommonConfig): ServerConfig {
    const cert = values["tls-cert"];
    const key = values["tls-key"];
    if ((cert === undefined) !== (key === undefined)) {
      throw new UsageError(
        `--${cert === undefined ? "tls-key" : "tls-cert"} needs --${
          cert === undefined ? "tls-cert" : "tls-key"
        } too`,
      );
    }
    const sni = ((values["tls-sni"] ?? []) as string[]).map((text) => {
      const match = text.match(/^([^=\s]+)=([^,]+),(.+)$/);
      if (!match) {
        throw new UsageError(
          `--tls-sni takes NAME=CERT,KEY (a host name, a certificate file, a key file), got '${text}'`,
        );
      }
      return { name: match[1], certFile: match[2], keyFile: match[3] };
    });
    const clientCa = values["tls-client-ca"];
    if ((sni.length > 0 || clientCa !== undefined) && cert === undefined) {
      throw new UsageError(
        `--${sni.length > 0 ? "tls-sni" : "tls-client-ca"} needs --tls-cert`,
      );
    }
    const unix = parseUnixPath(values);
    if (values["proxy-protocol"] && (values.udp || cert !== undefined)) {
      throw new UsageError(
        `--proxy-protocol cannot be used with ${
          values.udp ? "--udp" : "--tls-cert"
        }`,
      );
    }
    const from = (values["proxy-protocol-from"] ?? []) as string[];
    if (from.length > 0 && !values["proxy-protocol"]) {
      throw new UsageError("--proxy-protocol-from needs --proxy-protocol");
    }
    try {
      new AddressRanges(from);
    } catch (error) {
      throw new UsageError(
        `--proxy-protocol-from: ${(error as Error).message}`,
      );
    }
    if (values.udp && (unix !== undefined || cert !== undefined)) {
      throw new UsageError(
        `--udp cannot be used with ${
          unix !== undefined ? "--unix" : "--tls-cert"
        }`,
      );
    }
    return {
      ...common,
      udp: Boolean(values.udp),
      proxyProtocol: Boolean(values["proxy-protocol"]),
      proxyProtocolFrom: from,
      accessLog: Boolean(values["access-log"]),
      workers: parseWorkers(
        values,
        unix !== undefined || Boolean(values.udp) || cert !== undefined,
      ),
      ...(cert !== undefined
        ? {
          tls: {
            certFile: String(cert),
            keyFile: String(key),
            sni,
            ...(clientCa !== undefined
              ? { clientCaFile: String(clientCa) }
              : {}),
          },
        }
        : {}),
      keepAlive: Boolean(values.keepalive),
      ...(unix !== undefined ? { unix } : {}),
      grace: values.grace === undefined
        ? 5
        : parseSeconds("--grace", String(values.grace)),
      maxConnections: values["max-connections"] === undefined
        ? 10000
        : parseCount("--max-connections", String(values["max-connections"]), 1),
      maxConnectionsPerIp: values["max-connections-per-ip"] === undefined
        ? 0
        : parseCount(
          "--max-connections-per-ip",
          String(values["max-connections-per-ip"]),
          0,
        ),
      handshakeTimeout: values["handshake-timeout"] === undefined
        ? 10
        : parsePositiveSeconds(
          "--handshake-timeout",
          String(values["handshake-timeout"]),
        ),
      idleTimeout: values["idle-timeout"] === undefined
        ? 300
        : parseSeconds("--idle-timeout", String(values["idle-timeout"])),
    };
  },
  needs(config: ServerConfig): Need[] {
    const needs: Need[] = [];
    if (config.tls) {
      const { certFile, keyFile, sni, clientCaFile } = config.tls;
      needs.push(
        readAccess("--tls-cert", "to read its files", [
          certFile,
          keyFile,
          ...sni.flatMap((entry) => [entry.certFile, entry.keyFile]),
          ...(clientCaFile !== undefined ? [clientCaFile] : []),
        ]),
      );
    }
    if (config.unix !== undefined) needs.push(...socketAccess(config.unix));
    if (config.udp) {
      needs.push(unstableNet("--udp"));
    }
    if (config.workers > 1 && Deno.build.os === "linux") {
      needs.push(
        unstableNet("--workers"),
        workerFiles(),
      );
    }
    return needs;
  },
  async run(config: ServerConfig): Promise<number> {
    if (config.udp) return await runUdp(config);
    if (config.workers > 1) {
      if (Deno.build.os === "linux") {
        return await runWorkers(config, config.workers);
      }
      getLogger(["main"]).warning(
        "--workers needs Linux's SO_REUSEPORT; running 1 worker on {os}",
        { os: Deno.build.os },
      );
    }
    const log = getLogger(["main"]);
    const tls = config.tls && await readTls(config.tls);
    const where = config.unix ?? `${config.host} port ${config.port}`;
    let server: Server;
    try {
      server = await createServer(
        () => new EchoServer({ logBytes: config.logBytes }),
        serverOptions(config, { tls }),
      );
    } catch (error) {
      throw new ProgramError(
        `cannot listen on ${where}: ${
          describeError(error, config.unix ? "path" : "host")
        }`,
      );
    }
    await runUntilSignal(
      () => {
        announceTrust(config);
        if (server.path !== undefined) {
          startupLogger().info("starting up on {path}", { path: server.path });
        } else {
          startupLogger().info("starting up on {host} port {port}", {
            host: config.host,
            port: server.addrs[0].port,
          });
        }
      },
      async (hurry) => {
        await server.close();
        if (server.connectionCount > 0) {
          log.info(
            "waiting up to {grace} s for {count} open connection(s) to finish",
            { grace: config.grace, count: server.connectionCount },
          );
        }
        return await shutDown(server, config.grace, hurry);
      },
      config.grace,
      config.tls && (() => reloadTls(server, config.tls!)),
    );
    return EXIT_OK;
  },
};

/** Reads every PEM file `files` names, as `createServer` takes them. */
async function readTls(files: TlsFiles): Promise<TlsServerOptions> {
  const tls: TlsServerOptions = {
    cert: await readPemFile("--tls-cert", files.certFile, "certificate"),
    key: await readPemFile("--tls-key", files.keyFile, "private key"),
  };
  if (files.sni.length > 0) {
    tls.sni = {};
    for (const { name, certFile, keyFile } of files.sni) {
      tls.sni[name] = {
        cert: await readPemFile("--tls-sni", certFile, "certificate"),
        key: await readPemFile("--tls-sni", keyFile, "private key"),
      };
    }
  }
  if (files.clientCaFile !== undefined) {
    tls.clientCa = await readPemFile(
      "--tls-client-ca",
      files.clientCaFile,
      "certificate",
    );
  }
  return tls;
}

/**
 * Re-reads the certificate and key files (at SIGHUP) and serves them to new
 * connections; logs one line saying what it now serves, or why it kept the
 * certificate it had.
 */
async function reloadTls(server: Server, files: TlsFiles): Promise<void> {
  const log = getLogger(["main"]);
  try {
    const tls = await readTls(files);
    await server.setTls(tls);
    log.info("SIGHUP: now serving {certificate} from {file}", {
      certificate: describeCertificate(tls.cert),
      file: files.certFile,
    });
  } catch (error) {
    log.error("SIGHUP: kept the certificate in use: {why}", {
      why: error instanceof ProgramError ? error.message : describeError(error),
    });
  }
}
