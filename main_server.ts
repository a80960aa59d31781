/**
 * The echo server: `deno task server [OPTIONS]` (see `--help`).
 *
 * @module
 */

import { main } from "./echo/program.ts";
import { serverProgram } from "./echo/server_program.ts";

Deno.exit(await main(serverProgram, Deno.args));
