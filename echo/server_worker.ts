/**
 * One worker of `main_server.ts --workers N`: a Deno Worker that runs the
 * echo server on the shared address (`reusePort`), and shuts down when the
 * main thread says so. Messages: in `{ type: "start", config, port, limits }` (limits: the shared
 * `ConnectionLimits` buffer),
 * `{ type: "stop" }`, `{ type: "hurry" }`; out `{ type: "started", port }`,
 * `{ type: "failed", message }`, `{ type: "stopped", aborted, served }`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { ConnectionLimits, createServer, type Server } from "@protocols/core";
import { EchoServer } from "./echo.ts";
import { describeError } from "./errors.ts";
import { configureLogging, flushLogs } from "./logging.ts";
import { type ServerConfig, serverOptions } from "./server_config.ts";
import { shutDown } from "./shutdown.ts";

let server: Server | undefined;
let served = 0;
const hurry = Promise.withResolvers<void>();
let config: ServerConfig;

self.onmessage = async (event: MessageEvent) => {
  const message = event.data;
  if (message.type === "start") {
    config = message.config;
    configureLogging({ level: config.logLevel, format: config.logFormat });
    try {
      server = await createServer(() => {
        served++;
        return new EchoServer({ logBytes: config.logBytes });
      }, {
        ...serverOptions(config, {
          limits: ConnectionLimits.attach(message.limits),
        }),
        port: message.port ?? config.port,
        reusePort: true,
      });
      self.postMessage({ type: "started", port: server.addrs[0].port });
    } catch (error) {
      self.postMessage({ type: "failed", message: describeError(error) });
    }
  } else if (message.type === "stop" && server) {
    const aborted = await shutDown(server, config.grace, hurry.promise);
    await flushLogs();
    self.postMessage({ type: "stopped", aborted, served });
  } else if (message.type === "hurry") {
    hurry.resolve();
  }
};
