/**
 * `deno task bench`: the project's EchoServer against the raw Deno loop and
 * the peers (Node `net`, asyncio, uvloop), all driven by the same C load
 * generator on free loopback ports. Every server runs at once and each
 * figure's runs take turns across them. Servers and load generator are
 * pinned to different cores where `taskset` exists.
 *
 * Prints one table (every figure also as a ratio to the raw Deno loop: the
 * median of each run's ratio to the raw-loop runs next to it in time, see
 * paired.ts) and
 * writes bench/results/latest.json and bench/results/latest.svg.
 *
 * `--quick` runs each measurement once, briefly: a smoke test of the bench
 * itself, not a measurement (written to results/quick.*). `--only NAME`
 * (repeatable) runs only the servers named, e.g. `--only "raw Deno loop"
 * --only "EchoServer (lib)"`, and writes results/partial.*. The two raw
 * loops (plain, and copying each read: the floor for owned chunks),
 * EchoServer and the Protocol echo run five processes each and every other
 * server one; `--instances N` runs N processes of every server. A figure is
 * the median over every run of every process of its server.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  BASELINE,
  type BenchResults,
  COPYING_BASELINE,
  renderSvg,
  renderTable,
} from "./report.ts";
import { type Better, median, pairedRatios, type Sample } from "./paired.ts";
import {
  buildLoadgen,
  cpuModel,
  failingAs,
  loadgenHasTls,
  pinning,
  readUntil,
  run,
  threadTimes,
  works,
} from "./_process.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string", multiple: true },
    instances: { type: "string" },
  },
  strict: true,
});
// A failure (a server that stopped echoing byte for byte, a command that
// could not run) ends the bench with one line; the servers are stopped by
// the finally block below before it gets here.
failingAs("bench");

// Five runs per figure, not three: a run on these shared machines moves by
// up to ±5%, and the median of five keeps one slow run from moving a ratio.
const RUNS = flags.quick ? 1 : 5;
const SECONDS = flags.quick ? 0.5 : 2;
const WARMUP = flags.quick ? 0.2 : 0.5;
const STREAM_BYTES = (flags.quick ? 16 : 256) * 1024 * 1024;
const IDLE_CONNECTIONS = flags.quick ? 100 : 1000;
// Processes per server: two processes of the same server differ by up to
// 8% in one run here (JIT, memory layout), more than the gap being measured,
// and at 16 KiB two processes of one server once ran 25% apart for a whole
// series; with N, each figure is the median over every run of every
// process, and five keep one such process from moving it much. By
// default the rows the project's claims rest on (the raw loops and the
// library's plain-Protocol echoes) run HEADLINE_INSTANCES processes, the
// others one; --instances N sets it for every server.
const HEADLINE_INSTANCES = flags.quick ? 1 : 5;
const INSTANCES = flags.instances === undefined
  ? undefined
  : Number(flags.instances);
if (
  INSTANCES !== undefined &&
  (!Number.isInteger(INSTANCES) || INSTANCES < 1 || INSTANCES > 8)
) {
  console.error(
    `bench: --instances must be a whole number from 1 to 8, got ${flags.instances}`,
  );
  Deno.exit(2);
}

const cores = navigator.hardwareConcurrency;
const { pin, pinned } = await pinning();

const loadgen = await buildLoadgen();

/** A server under test. */
interface ServerSpec {
  name: string;
  cmd: string[];
  /** Which measurements to take (default: all). */
  only?: string[];
  /** Ping-pong messages are lines ('\n'-terminated, no other '\n'). */
  lines?: boolean;
  /** Ping-pong messages carry a 4-byte big-endian length first. */
  prefixed?: boolean;
  /** The server names its port on stderr (`... port N`), not stdout. */
  portOnStderr?: boolean;
  /** More environment for the server. */
  env?: Record<string, string>;
  /** A row the project's claims rest on: measured on more processes. */
  headline?: boolean;
  /** Serves TLS: measured on the TLS ping-pong figures only. */
  tls?: boolean;
}

// An OTLP/HTTP receiver on loopback for the telemetry row: it takes the
// exports and throws them away, as a collector's first hop would.
const otlp = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  async (request) => {
    await request.body?.cancel();
    return Response.json({});
  },
);
const OTEL_ENV = {
  OTEL_DENO: "true",
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
  OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlp.addr.port}`,
  OTEL_METRIC_EXPORT_INTERVAL: "1000",
};

const python = (await works("/usr/bin/python3", ["-c", "import asyncio"]))
  ? "/usr/bin/python3"
  : "python3";
const hasUvloop = await works(python, ["-c", "import uvloop"]);

const deno = Deno.execPath();
/** The plain (not TLS) ping-pong figures, for the rows that take only some. */
const PLAIN_PINGPONG = ["1k x10", "16k x10", "1k x100"];
const SERVERS: ServerSpec[] = [
  {
    name: BASELINE,
    cmd: [deno, "run", "--allow-net", `${HERE}raw_echo.ts`],
    headline: true,
  },
  {
    name: COPYING_BASELINE,
    cmd: [deno, "run", "--allow-net", `${HERE}raw_echo.ts`, "--copy"],
    headline: true,
    only: [...PLAIN_PINGPONG, "stream"],
  },
  {
    name: "EchoServer (lib)",
    cmd: [deno, "run", "--allow-net", `${HERE}lib_echo.ts`],
    headline: true,
  },
  {
    name: "Protocol echo (lib)",
    cmd: [deno, "run", "--allow-net", `${HERE}protocol_echo.ts`],
    headline: true,
    only: [...PLAIN_PINGPONG, "stream"],
  },
  {
    name: "EchoServer, OTEL_DENO=true",
    cmd: [deno, "run", "--allow-net", `${HERE}lib_echo.ts`],
    env: OTEL_ENV,
    only: [...PLAIN_PINGPONG, "stream"],
  },
  {
    name: "stream echo (lib, pipeTo)",
    cmd: [deno, "run", "--allow-net", `${HERE}stream_echo.ts`],
    only: [...PLAIN_PINGPONG, "stream"],
  },
  {
    name: "LineReceiver echo (lib)",
    cmd: [deno, "run", "--allow-net", `${HERE}line_echo.ts`],
    only: PLAIN_PINGPONG,
    lines: true,
  },
  {
    name: "streams echo (lib, read/write/drain)",
    cmd: [deno, "run", "--allow-net", `${HERE}streams_echo.ts`],
    only: PLAIN_PINGPONG,
  },
  {
    name: "readline echo (lib)",
    cmd: [deno, "run", "--allow-net", `${HERE}readline_echo.ts`],
    only: PLAIN_PINGPONG,
    lines: true,
  },
  {
    name: "LengthPrefixedReceiver echo (lib)",
    cmd: [deno, "run", "--allow-net", `${HERE}length_prefixed_echo.ts`],
    only: PLAIN_PINGPONG,
    prefixed: true,
  },
  {
    name: "echo server program",
    cmd: [
      deno,
      "run",
      "--allow-net",
      "--allow-env=INIT_CWD",
      `${ROOT}main_server.ts`,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--log-level",
      "warning",
    ],
    only: PLAIN_PINGPONG,
    portOnStderr: true,
  },
  {
    name: "EchoServer, debug log",
    cmd: [deno, "run", "--allow-net", `${HERE}lib_echo.ts`, "debug"],
    only: ["1k x10", "16k x10"],
  },
  { name: "Node net", cmd: ["node", `${HERE}node_echo.mjs`] },
  {
    name: "Node net, data events",
    cmd: ["node", `${HERE}node_data_echo.mjs`],
    only: PLAIN_PINGPONG,
  },
  { name: "asyncio", cmd: [python, `${HERE}asyncio_echo.py`] },
  {
    name: "asyncio streams",
    cmd: [python, `${HERE}asyncio_streams_echo.py`],
    only: PLAIN_PINGPONG,
  },
];
// The TLS rows: the library's EchoServer over TLS, and Node's TLS echo as
// the anchor, with a certificate made here (openssl) for the run.
const hasTls = await loadgenHasTls(loadgen) &&
  await works("openssl", ["version"]);
if (hasTls) {
  const cert = `${HERE}bin/bench_cert.pem`;
  const key = `${HERE}bin/bench_key.pem`;
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
  ]);
  SERVERS.push(
    {
      name: "EchoServer (lib), TLS",
      cmd: [
        deno,
        "run",
        "--allow-net",
        "--allow-read",
        `${HERE}lib_echo.ts`,
        "--tls",
        cert,
        key,
      ],
      tls: true,
    },
    {
      name: "Node tls",
      cmd: ["node", `${HERE}node_tls_echo.mjs`, cert, key],
      tls: true,
    },
  );
} else {
  console.log(
    "TLS rows: skipped (the load generator needs OpenSSL's headers: apt-get install libssl-dev; and openssl)",
  );
}
if (hasUvloop) {
  SERVERS.push({
    name: "uvloop",
    cmd: [python, `${HERE}asyncio_echo.py`, "--uvloop"],
  });
} else {
  console.log(
    `uvloop: skipped (not importable by ${python}; apt-get install python3-uvloop)`,
  );
}

const PINGPONG = [
  { key: "1k x10", size: 1024, connections: 10 },
  { key: "16k x10", size: 16384, connections: 10 },
  { key: "1k x100", size: 1024, connections: 100 },
  { key: "1k x10 tls", size: 1024, connections: 10 },
  { key: "16k x10 tls", size: 16384, connections: 10 },
];

/** A running server: its pid and port. */
interface Running {
  child: Deno.ChildProcess;
  port: number;
  lines: boolean;
  prefixed: boolean;
  tls: boolean;
}

async function start(spec: ServerSpec): Promise<Running> {
  const [cmd, ...args] = pin(0, spec.cmd);
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: spec.portOnStderr ? "null" : "piped",
    // The debug-log row writes its log to /dev/null; a program that names
    // its port on stderr has the rest of its log read and dropped.
    stderr: spec.portOnStderr ? "piped" : "null",
    cwd: ROOT,
    env: spec.env ?? {},
  }).spawn();
  const reader = (spec.portOnStderr ? child.stderr : child.stdout)
    .pipeThrough(new TextDecoderStream()).getReader();
  const [, port] = await readUntil(
    reader,
    spec.portOnStderr ? / port (\d+)/ : /listening on (\d+)/,
    `${spec.name} did not start`,
  );
  if (spec.portOnStderr) {
    (async () => {
      while (!(await reader.read().catch(() => ({ done: true }))).done) {
        // dropped
      }
    })();
  } else {
    await reader.cancel();
  }
  return {
    child,
    port: Number(port),
    lines: spec.lines === true,
    prefixed: spec.prefixed === true,
    tls: spec.tls === true,
  };
}

/** The process's CPU time so far, in seconds: all its threads'. */
async function cpuSeconds(pid: number): Promise<number> {
  return (await threadTimes(pid)).reduce((sum, t) => sum + t.seconds, 0);
}

/** A field of /proc/PID/status in bytes (VmRSS, VmHWM). */
async function memory(pid: number, field: string): Promise<number> {
  const status = await run("cat", [`/proc/${pid}/status`]);
  return Number(status.match(new RegExp(`${field}:\\s+(\\d+) kB`))![1]) *
    1024;
}

async function loadgenJson(args: string[]): Promise<Record<string, number>> {
  const [cmd, ...rest] = pin(1, [loadgen, ...args]);
  return JSON.parse(await run(cmd, rest));
}

/** One ping-pong measurement: rate, server CPU per round trip, latency. */
async function pingpongRun(
  server: Running,
  size: number,
  connections: number,
  seconds: number,
) {
  const before = await cpuSeconds(server.child.pid);
  const result = await loadgenJson([
    "pingpong",
    "127.0.0.1",
    String(server.port),
    String(connections),
    String(size),
    String(seconds),
    ...(server.lines
      ? ["lines"]
      : server.prefixed
      ? ["prefixed"]
      : server.tls
      ? ["tls"]
      : []),
  ]);
  const after = await cpuSeconds(server.child.pid);
  if (result.mismatches || result.errors) {
    throw new Error(`echo not byte-exact: ${JSON.stringify(result)}`);
  }
  return {
    rate: result.rate,
    cpuUs: (after - before) * 1e6 / result.round_trips,
    p50: result.p50_us,
    p99: result.p99_us,
    loadgenCpu: result.cpu_s / result.seconds,
  };
}

/** Medians of each figure over runs. */
function medians(runs: Awaited<ReturnType<typeof pingpongRun>>[]) {
  return {
    rate: median(runs.map((r) => r.rate)),
    cpuUs: median(runs.map((r) => r.cpuUs)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    loadgenCpu: median(runs.map((r) => r.loadgenCpu)),
  };
}

/**
 * One streaming measurement, checked byte for byte: MB/s, the server's CPU
 * time per MiB echoed, and the load generator's CPU share (near 100% would
 * mean it, not the server, set the pace: MB/s then says little, CPU per MiB
 * still does).
 */
async function streamRun(server: Running, bytes = STREAM_BYTES) {
  const before = await cpuSeconds(server.child.pid);
  const result = await loadgenJson([
    "stream",
    "127.0.0.1",
    String(server.port),
    String(bytes),
  ]);
  const after = await cpuSeconds(server.child.pid);
  if (result.mismatches || result.received !== bytes) {
    throw new Error(`stream not byte-exact: ${JSON.stringify(result)}`);
  }
  return {
    mbPerS: result.mb_per_s,
    cpuUsPerMiB: (after - before) * 1e6 / (bytes / 1048576),
    loadgenCpu: result.cpu_s / result.seconds,
  };
}

/** How many descriptors the process has open. */
async function openFiles(pid: number): Promise<number> {
  // Deno asks for --allow-all to read /proc directly; `ls` needs no more.
  return (await run("ls", [`/proc/${pid}/fd`])).split("\n").length - 1;
}

/**
 * Opens `count` connections to the server, each echoing one byte, and calls
 * `measure` while they are all open and idle; then closes them and waits
 * (at most 5 s) until the server has closed its ends too.
 */
async function holdIdle<T>(
  server: Running,
  count: number,
  measure: () => Promise<T>,
): Promise<T> {
  const pid = server.child.pid;
  const files = await openFiles(pid);
  const [cmd, ...args] = pin(1, [
    loadgen,
    "idle",
    "127.0.0.1",
    String(server.port),
    String(count),
  ]);
  const holder = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  await readUntil(reader, /ready/, "idle load generator ended early");
  const result = await measure();
  await holder.stdin.close();
  await reader.cancel();
  await holder.status;
  const deadline = Date.now() + 5000;
  while (await openFiles(pid) > files && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return result;
}

/**
 * RSS before and with IDLE_CONNECTIONS idle connections, after a warm-up
 * of 100 connections: what the first connections cost once (compiled code,
 * lazily built state) is not counted per connection.
 */
async function idle(server: Running) {
  const pid = server.child.pid;
  await holdIdle(server, 100, () => Promise.resolve());
  const before = await memory(pid, "VmRSS");
  const during = await holdIdle(
    server,
    IDLE_CONNECTIONS,
    () => memory(pid, "VmRSS"),
  );
  return {
    rssBefore: before,
    rssIdle: during,
    perConnectionKiB: (during - before) / IDLE_CONNECTIONS / 1024,
  };
}

const machine = {
  cpu: await cpuModel(),
  cores,
  pinned,
  deno: Deno.version.deno,
  node: (await run("node", ["--version"])).trim(),
  python: (await run(python, ["--version"])).trim(),
  date: new Date().toISOString(),
  quick: flags.quick,
  instances: INSTANCES ?? `${HEADLINE_INSTANCES} for the headline rows, else 1`,
};
console.log(
  `machine: ${machine.cpu}, ${cores} cores; server on core 0, load generator on core 1${
    machine.pinned ? "" : " (not pinned: no taskset or 1 core)"
  }; ${RUNS} run(s) of ${SECONDS} s per figure on each of ${
    INSTANCES ??
      `${HEADLINE_INSTANCES} (raw loops, EchoServer, Protocol echo) or 1`
  } process(es) per server, median`,
);

// Every server runs at once (pinned to core 0, idle between turns), and the
// runs of each figure take turns across them: a drift in the machine's
// speed then touches every server alike instead of whichever ran last.
const specs = SERVERS.filter((spec) =>
  !flags.only || flags.only.includes(spec.name)
);
// A TLS server takes part in the TLS figures only, and only it does.
const wanted = (spec: ServerSpec, key: string) =>
  (spec.tls === true) === key.endsWith(" tls") &&
  (!spec.only || spec.only.includes(key));
const baseline = specs.findIndex((spec) => spec.name === BASELINE);
const copying = specs.findIndex((spec) => spec.name === COPYING_BASELINE);
const running: Running[][] = []; // each server's processes
// One round's order: the headline servers' processes take turns (raw loop 1,
// EchoServer 1, Protocol echo 1, raw loop 2, ...), so each of the library's
// runs has a raw-loop run a few seconds either side of it; the other servers
// follow. See paired.ts for why that matters.
const turns: { spec: number; server: Running }[] = [];

/**
 * One figure (`key`) of every server that takes part in it: `warmUp` once on
 * each of its processes, then RUNS rounds of `measure` taking turns. Returns
 * each server's runs, and their `figures` as ratios paired in time with the
 * raw loop's runs (`ratios`) and with the copying raw loop's (`vsCopy`).
 */
async function measureInTurns<T extends Record<string, number>>(
  key: string,
  warmUp: (server: Running) => Promise<unknown>,
  measure: (server: Running) => Promise<T>,
  figures: Record<string, Better>,
): Promise<{
  runs: T[][];
  ratios: Map<number, Record<string, number>>;
  vsCopy: Map<number, Record<string, number>>;
}> {
  for (const [i, spec] of specs.entries()) {
    if (!wanted(spec, key)) continue;
    for (const server of running[i]) await warmUp(server);
  }
  const runs: T[][] = specs.map(() => []);
  const timeline: Sample[] = [];
  for (let run = 0; run < RUNS; run++) {
    for (const { spec: i, server } of turns) {
      if (!wanted(specs[i], key)) continue;
      const result = await measure(server);
      runs[i].push(result);
      timeline.push({ server: i, values: result });
    }
  }
  return {
    runs,
    ratios: pairedRatios(timeline, baseline, figures),
    vsCopy: pairedRatios(timeline, copying, figures),
  };
}

const results: BenchResults = { machine, servers: [] };
try {
  for (const spec of specs) {
    const processes: Running[] = [];
    running.push(processes);
    const count = INSTANCES ??
      (spec.headline ? HEADLINE_INSTANCES : 1);
    for (let n = 0; n < count; n++) processes.push(await start(spec));
  }
  const most = Math.max(...running.map((processes) => processes.length));
  for (let k = 0; k < most; k++) {
    specs.forEach((spec, i) => {
      if (spec.headline && running[i][k]) {
        turns.push({ spec: i, server: running[i][k] });
      }
    });
  }
  specs.forEach((spec, i) => {
    if (!spec.headline) {
      for (const server of running[i]) turns.push({ spec: i, server });
    }
  });
  const rows = specs.map((spec) => ({
    name: spec.name,
    pingpong: {} as BenchResults["servers"][number]["pingpong"],
  } as BenchResults["servers"][number]));
  console.log("measuring idle connections ...");
  for (const [i, spec] of specs.entries()) {
    if (wanted(spec, "idle")) rows[i].idle = await idle(running[i][0]);
  }
  console.log("measuring streaming ...");
  const streams = await measureInTurns(
    "stream",
    (server) => streamRun(server, STREAM_BYTES / 8),
    (server) => streamRun(server),
    { mbPerS: "higher", cpuUsPerMiB: "lower" },
  );
  specs.forEach((spec, i) => {
    if (wanted(spec, "stream")) {
      const runs = streams.runs[i];
      rows[i].stream = {
        mbPerS: median(runs.map((r) => r.mbPerS)),
        cpuUsPerMiB: median(runs.map((r) => r.cpuUsPerMiB)),
        loadgenCpu: median(runs.map((r) => r.loadgenCpu)),
        vsRaw: streams.ratios.get(i),
        vsCopy: streams.vsCopy.get(i),
      };
    }
  });
  for (const { key, size, connections } of PINGPONG) {
    console.log(`measuring ping-pong ${key} ...`);
    const { runs, ratios, vsCopy } = await measureInTurns(
      key,
      (server) => pingpongRun(server, size, connections, WARMUP),
      (server) => pingpongRun(server, size, connections, SECONDS),
      { rate: "higher", cpuUs: "lower" },
    );
    specs.forEach((spec, i) => {
      if (wanted(spec, key)) {
        rows[i].pingpong[key] = {
          ...medians(runs[i]),
          vsRaw: ratios.get(i),
          vsCopy: vsCopy.get(i),
        };
      }
    });
  }
  for (const [i] of specs.entries()) {
    rows[i].peakRss = await memory(running[i][0].child.pid, "VmHWM");
  }
  results.servers = rows;
} finally {
  for (const server of running.flat()) {
    server.child.kill("SIGKILL");
    await server.child.status;
  }
}

/**
 * main_server.ts --workers N under the same load (1 KiB × 100 connections,
 * nothing pinned: the workers and the load generator share the cores).
 */
async function workers(n: number) {
  const child = new Deno.Command(deno, {
    args: [
      "run",
      "--allow-net",
      "--unstable-net",
      `--allow-read=${ROOT}`,
      `${ROOT}main_server.ts`,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--log-level",
      "info",
      "--workers",
      String(n),
    ],
    stdout: "null",
    stderr: "piped",
    cwd: ROOT,
  }).spawn();
  const lines: string[] = [];
  const reading = (async () => {
    let pending = "";
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      pending += chunk;
      const parts = pending.split("\n");
      pending = parts.pop()!;
      lines.push(...parts);
    }
  })();
  let port = 0;
  for (let i = 0; i < 100 && !port; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = lines.find((l) => /starting up on .* port \d+/.test(l));
    if (line) port = Number(line.match(/port (\d+)/)![1]);
  }
  if (!port) {
    throw new Error(`--workers ${n} did not start: ${lines.join("\n")}`);
  }
  const args = ["127.0.0.1", String(port), "100", "1024"];
  await run(loadgen, ["pingpong", ...args, String(WARMUP)]);
  const rates = [];
  for (let i = 0; i < RUNS; i++) {
    rates.push(
      JSON.parse(await run(loadgen, ["pingpong", ...args, String(SECONDS)]))
        .rate,
    );
  }
  child.kill("SIGTERM");
  await child.status;
  await reading;
  const served = lines
    .map((l) => l.match(/worker \d+ served (\d+) connection/))
    .filter((m) => m !== null)
    .map((m) => Number(m![1]));
  const total = served.reduce((a, b) => a + b, 0) || 1;
  return {
    workers: n,
    rate: median(rates),
    shares: served.map((x) => x / total),
  };
}

if (!flags.only) {
  console.log("measuring --workers 1 and --workers 2 ...");
  const one = await workers(1);
  const two = await workers(2);
  results.workers = [one, two];
}

console.log();
console.log(renderTable(results));
await Deno.mkdir(`${HERE}results`, { recursive: true });
// A quick or partial run is kept apart from the full table.
const name = flags.quick ? "quick" : flags.only ? "partial" : "latest";
await Deno.writeTextFile(
  `${HERE}results/${name}.json`,
  JSON.stringify(results, null, 2) + "\n",
);
await Deno.writeTextFile(`${HERE}results/${name}.svg`, renderSvg(results));
console.log(`\nwrote bench/results/${name}.json and bench/results/${name}.svg`);
await otlp.shutdown();
