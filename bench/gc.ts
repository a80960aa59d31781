/**
 * `deno task bench:gc`: how much garbage collection each server does per
 * round trip at 16 KiB × 10 ping-pong, from V8's own trace (`--trace-gc`):
 * full collections (mark-compact) and young ones (scavenges) per 1,000
 * round trips, and the main thread's time in them per round trip (pauses
 * and incremental marking steps). Beside them, the CPU time per round trip
 * of the server's main thread and of V8's worker threads (concurrent
 * marking and sweeping, on the same pinned core), from
 * /proc/PID/task/TID/schedstat.
 *
 * At that size every owned chunk is 16 KiB of new memory outside V8's heap,
 * and how often V8 runs a full collection for it depends on the process as
 * much as on the code that allocates it. Three servers tell the two apart:
 * the copying raw loop, the same loop in a process that has also loaded the
 * library (`raw_echo.ts --copy --load-library`, which never calls it), and
 * the Protocol echo. The timed bench (`deno task bench`) cannot: the
 * difference is a few per cent of a round trip, less than two timed runs of
 * one server differ by on these machines, while these counts repeat.
 *
 * A process keeps the pace of collection it settles into: two processes of
 * one server can differ by two to three times in full collections per
 * round trip, run after run. So each server runs as `--processes`
 * processes (3), each warmed up (two runs) and then measured in turns with
 * all the others, `--rounds` times (3); a figure is the total over a
 * process's rounds, and the server's over all its processes. Prints a table
 * and writes bench/results/gc.json (`--quick`, a short smoke run:
 * results/quick.gc.json). Needs a C compiler.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { GcTally } from "./gc_trace.ts";
import {
  buildLoadgen,
  cpuModel,
  failingAs,
  pinning,
  readUntil,
  run,
  threadTimes,
} from "./_process.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

const fail: (reason: unknown) => never = failingAs("bench:gc");

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    processes: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
  },
  strict: true,
});

/** A flag's whole number from 1 to 20, or the end with one line. */
function count1to20(name: "processes" | "rounds"): number {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < 1 || value > 20) {
    fail(`--${name} must be a whole number from 1 to 20, got ${flags[name]}`);
  }
  return value;
}
const PROCESSES = flags.quick ? 1 : count1to20("processes");
const ROUNDS = flags.quick ? 1 : count1to20("rounds");
const SECONDS = flags.quick ? 1 : 3;
const WARMUP_SECONDS = flags.quick ? 1 : 2;
const SIZE = 16 * 1024;
const CONNECTIONS = 10;

const SERVERS = [
  { name: "raw Deno loop, copying", args: [`${HERE}raw_echo.ts`, "--copy"] },
  {
    name: "the same, library loaded",
    args: [`${HERE}raw_echo.ts`, "--copy", "--load-library"],
  },
  { name: "Protocol echo (lib)", args: [`${HERE}protocol_echo.ts`] },
];

/** What one process's rounds counted. */
interface Counted {
  roundTrips: number;
  full: number;
  young: number;
  /** The main thread's milliseconds in collections. */
  ms: number;
  /** CPU seconds of the main thread. */
  mainCpu: number;
  /** CPU seconds of V8's worker threads. */
  workerCpu: number;
}

/** A running server, its trace read as it comes. */
interface Traced {
  child: Deno.ChildProcess;
  port: number;
  tally: GcTally;
}

const { pin, pinned } = await pinning();
const loadgen = await buildLoadgen();
const deno = Deno.execPath();

async function start(args: string[]): Promise<Traced> {
  const [cmd, ...rest] = pin(0, [
    deno,
    "run",
    "--allow-net",
    "--v8-flags=--trace-gc",
    ...args,
  ]);
  const child = new Deno.Command(cmd, {
    args: rest,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    cwd: ROOT,
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  const [, port] = await readUntil(
    reader,
    /listening on (\d+)\n/,
    `${args.join(" ")} did not start`,
  );
  const tally = new GcTally();
  // Counted as they come: V8 writes each line as it collects.
  (async () => {
    let rest = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      const lines = (rest + value).split("\n");
      rest = lines.pop()!;
      for (const line of lines) tally.add(line);
    }
  })().catch(() => {});
  return { child, port: Number(port), tally };
}

/**
 * CPU seconds so far of a process's main thread and of V8's worker threads
 * (named `V8 DefaultWorker`).
 */
async function threadCpu(
  pid: number,
): Promise<{ mainCpu: number; workerCpu: number }> {
  let mainCpu = 0;
  let workerCpu = 0;
  for (const thread of await threadTimes(pid)) {
    if (thread.tid === pid) mainCpu += thread.seconds;
    else if (thread.name.startsWith("V8 ")) workerCpu += thread.seconds;
  }
  return { mainCpu, workerCpu };
}

async function pingpong(port: number, seconds: number): Promise<number> {
  const [cmd, ...args] = pin(1, [
    loadgen,
    "pingpong",
    "127.0.0.1",
    String(port),
    String(CONNECTIONS),
    String(SIZE),
    String(seconds),
  ]);
  const result = JSON.parse(await run(cmd, args));
  if (result.mismatches || result.errors) {
    fail(`echo not byte-exact: ${JSON.stringify(result)}`);
  }
  return result.round_trips;
}

const cpu = await cpuModel();
console.log(
  `machine: ${cpu}; Deno ${Deno.version.deno}; ${
    SIZE / 1024
  } KiB × ${CONNECTIONS} ping-pong; ${PROCESSES} process(es) per server, ${ROUNDS} round(s) of ${SECONDS} s each${
    pinned ? "; servers on core 0, load generator on core 1" : " (not pinned)"
  }`,
);
/** Every process of every server, and what was counted in its rounds. */
const processes: {
  server: number;
  traced: Traced;
  counted: Counted;
}[] = [];
try {
  for (const [server, spec] of SERVERS.entries()) {
    for (let i = 0; i < PROCESSES; i++) {
      const traced = await start(spec.args);
      processes.push({
        server,
        traced,
        counted: {
          roundTrips: 0,
          full: 0,
          young: 0,
          ms: 0,
          mainCpu: 0,
          workerCpu: 0,
        },
      });
      for (let j = 0; j < 2; j++) await pingpong(traced.port, WARMUP_SECONDS);
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const { traced, counted } of processes) {
      const before = traced.tally.snapshot();
      const cpuBefore = await threadCpu(traced.child.pid);
      counted.roundTrips += await pingpong(traced.port, SECONDS);
      const cpuAfter = await threadCpu(traced.child.pid);
      counted.full += traced.tally.full - before.full;
      counted.young += traced.tally.young - before.young;
      counted.ms += traced.tally.ms - before.ms;
      counted.mainCpu += cpuAfter.mainCpu - cpuBefore.mainCpu;
      counted.workerCpu += cpuAfter.workerCpu - cpuBefore.workerCpu;
    }
  }
} finally {
  for (const { traced } of processes) {
    traced.child.kill("SIGKILL");
    await traced.child.status;
  }
}

const per1000 = (n: number, roundTrips: number) => 1000 * n / roundTrips;
const rows = SERVERS.map((spec, server) => {
  const own = processes.filter((p) => p.server === server).map((p) =>
    p.counted
  );
  const sum = (key: keyof Counted) =>
    own.reduce((total, counted) => total + counted[key], 0);
  const roundTrips = sum("roundTrips");
  return {
    name: spec.name,
    roundTrips,
    fullPer1000: per1000(sum("full"), roundTrips),
    fullPer1000ByProcess: own.map((c) => per1000(c.full, c.roundTrips)),
    youngPer1000: per1000(sum("young"), roundTrips),
    gcMicrosPerRoundTrip: per1000(sum("ms"), roundTrips),
    mainCpuMicrosPerRoundTrip: 1e6 * sum("mainCpu") / roundTrips,
    workerCpuMicrosPerRoundTrip: 1e6 * sum("workerCpu") / roundTrips,
  };
});
console.log();
console.log(
  "".padEnd(26) + "".padStart(12) + "collections".padStart(23) +
    "GC on main".padStart(12) + "CPU µs per round trip".padStart(24),
);
console.log(
  "server".padEnd(26) + "round trips".padStart(12) + "full/1000".padStart(11) +
    "young/1000".padStart(12) + "µs/rt".padStart(12) + "main".padStart(10) +
    "V8 workers".padStart(14) + "  full/1000 by process",
);
for (const row of rows) {
  console.log(
    row.name.padEnd(26) +
      row.roundTrips.toLocaleString("en-US").padStart(12) +
      row.fullPer1000.toFixed(2).padStart(11) +
      row.youngPer1000.toFixed(2).padStart(12) +
      row.gcMicrosPerRoundTrip.toFixed(2).padStart(12) +
      row.mainCpuMicrosPerRoundTrip.toFixed(2).padStart(10) +
      row.workerCpuMicrosPerRoundTrip.toFixed(2).padStart(14) + "  " +
      row.fullPer1000ByProcess.map((n) => n.toFixed(2)).join(" "),
  );
}
const file = flags.quick ? "quick.gc.json" : "gc.json";
await Deno.mkdir(`${HERE}results`, { recursive: true });
await Deno.writeTextFile(
  `${HERE}results/${file}`,
  JSON.stringify(
    {
      machine: {
        cpu,
        deno: Deno.version.deno,
        pinned,
        date: new Date().toISOString(),
      },
      quick: flags.quick,
      size: SIZE,
      connections: CONNECTIONS,
      processes: PROCESSES,
      rounds: ROUNDS,
      seconds: SECONDS,
      rows,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote bench/results/${file}`);
