/**
 * The echo server: `deno task server [OPTIONS]` (see `--help`).
 *
 * @module
 */

import { main } from "./lib/cli.ts";
import { serverProgram } from "./lib/server_program.ts";

Deno.exit(await main(serverProgram, Deno.args));
