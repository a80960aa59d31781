/**
 * The echo client: `deno task client [OPTIONS]` (see `--help`).
 *
 * @module
 */

import { main } from "./lib/cli.ts";
import { clientProgram } from "./lib/client_program.ts";

Deno.exit(await main(clientProgram, Deno.args));
