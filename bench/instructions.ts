/**
 * `deno task bench:instructions`: how many instructions each server runs
 * per round trip, counted by Valgrind's callgrind — the figure that says
 * what a change to the library costs when timings cannot: on the shared
 * machines this project runs on, two timed runs of one server differ by
 * more than most changes do, while the count moves by about 1% from run to
 * run.
 *
 * Each server runs under `valgrind --tool=callgrind --instr-atstart=no`:
 * it is warmed up natively (four ping-pong runs with new connections, so
 * that its code is optimized and stays so), then counted over one run, and
 * the count is divided by the round trips the load generator made. Only the
 * server's own instructions are counted, not the kernel's: the system calls
 * are the same for every server here (see `strace -c`). Under Valgrind a
 * server runs ~20× slower, so the event loop finds fewer connections ready
 * at once than at full speed; the count is a proxy for CPU time, to compare
 * servers and changes with, not a time.
 *
 * Prints a table and writes bench/results/instructions.json (`--quick`, a
 * short smoke run whose counts include code not yet optimized:
 * results/quick.instructions.json). Needs
 * `valgrind` (`apt-get install -y valgrind`) and a C compiler.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  buildLoadgen,
  cpuModel,
  failingAs,
  readUntil,
  run,
  works,
} from "./_process.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { quick: { type: "boolean", default: false } },
  strict: true,
});
const WARMUPS = flags.quick ? 1 : 4;
const WARMUP_SECONDS = flags.quick ? 1 : 4;
const SECONDS = flags.quick ? 3 : 15;
const CONNECTIONS = 10;
const SIZES = [1024, 16 * 1024];

const fail: (reason: unknown) => never = failingAs("bench:instructions");

const deno = Deno.execPath();
const SERVERS = [
  { name: "raw Deno loop", args: [`${HERE}raw_echo.ts`] },
  { name: "raw Deno loop, copying", args: [`${HERE}raw_echo.ts`, "--copy"] },
  { name: "EchoServer (lib)", args: [`${HERE}lib_echo.ts`] },
  { name: "Protocol echo (lib)", args: [`${HERE}protocol_echo.ts`] },
];

if (!(await works("valgrind", ["--version"]))) {
  fail("valgrind not found (apt-get install -y valgrind)");
}
const valgrind = (await run("valgrind", ["--version"])).trim();
const loadgen = await buildLoadgen();
// Callgrind's dumps, one file per count; removed at the end.
const work = `${HERE}bin/callgrind`;
await Deno.mkdir(work, { recursive: true });
let counts = 0;

async function pingpong(port: number, size: number, seconds: number) {
  const result = JSON.parse(
    await run(loadgen, [
      "pingpong",
      "127.0.0.1",
      String(port),
      String(CONNECTIONS),
      String(size),
      String(seconds),
    ]),
  );
  if (result.mismatches || result.errors) {
    fail(`echo not byte-exact: ${JSON.stringify(result)}`);
  }
  return result.round_trips as number;
}

/** Instructions per round trip of one server at one message size. */
async function count(args: string[], size: number): Promise<number> {
  const out = `${work}/${++counts}.out`;
  const child = new Deno.Command("valgrind", {
    args: [
      "--tool=callgrind",
      "--instr-atstart=no",
      "--smc-check=all-non-file",
      `--callgrind-out-file=${out}`,
      deno,
      "run",
      "--allow-net",
      ...args,
    ],
    stdout: "piped",
    stderr: "null",
    cwd: ROOT,
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const port = Number(
      (await readUntil(
        reader,
        /listening on (\d+)/,
        `${args.join(" ")} did not start`,
      ))[1],
    );
    await reader.cancel();
    for (let i = 0; i < WARMUPS; i++) {
      await pingpong(port, size, WARMUP_SECONDS);
    }
    const pid = String(child.pid);
    await run("callgrind_control", ["--instr=on", pid]);
    const roundTrips = await pingpong(port, size, SECONDS);
    await run("callgrind_control", ["--instr=off", pid]);
    await run("callgrind_control", ["--dump", pid]);
    const dump = await Deno.readTextFile(`${out}.1`);
    const totals = dump.match(/^totals: (\d+)/m);
    if (!totals) fail(`no totals in the callgrind dump of ${args.join(" ")}`);
    return Number(totals[1]) / roundTrips;
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

const cpu = await cpuModel();
console.log(
  `machine: ${cpu}; Deno ${Deno.version.deno}; ${valgrind}; ${CONNECTIONS} connections, ${SECONDS} s counted after ${WARMUPS} warm-up run(s)`,
);
const rows: { name: string; size: number; perRoundTrip: number }[] = [];
for (const size of SIZES) {
  for (const server of SERVERS) {
    const perRoundTrip = await count(server.args, size);
    rows.push({ name: server.name, size, perRoundTrip });
  }
}
await Deno.remove(work, { recursive: true }).catch(() => {});

const of = (name: string, size: number) =>
  rows.find((row) => row.name === name && row.size === size)!.perRoundTrip;
console.log();
console.log(
  "server".padEnd(26) +
    "size".padStart(7) +
    "instr/rt".padStart(10) +
    "  vs raw".padStart(9) +
    "  vs copying".padStart(13),
);
for (const row of rows) {
  const raw = of(SERVERS[0].name, row.size);
  const copying = of(SERVERS[1].name, row.size);
  console.log(
    row.name.padEnd(26) +
      `${row.size / 1024}K`.padStart(7) +
      Math.round(row.perRoundTrip).toLocaleString("en-US").padStart(10) +
      `×${(raw / row.perRoundTrip).toFixed(2)}`.padStart(9) +
      `×${(copying / row.perRoundTrip).toFixed(2)}`.padStart(13),
  );
}
// A quick run is a smoke test, kept apart from the measurement.
const file = flags.quick ? "quick.instructions.json" : "instructions.json";
await Deno.mkdir(`${HERE}results`, { recursive: true });
await Deno.writeTextFile(
  `${HERE}results/${file}`,
  JSON.stringify(
    {
      machine: { cpu, deno: Deno.version.deno, date: new Date().toISOString() },
      quick: flags.quick,
      rows,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote bench/results/${file}`);
