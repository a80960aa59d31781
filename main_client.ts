/**
 * The echo client: `deno task client [OPTIONS]` (see `--help`).
 *
 * @module
 */

import { main } from "./echo/program.ts";
import { clientProgram } from "./echo/client_program.ts";

Deno.exit(await main(clientProgram, Deno.args));
