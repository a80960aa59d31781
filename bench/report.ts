/**
 * The benchmark's results: their shape, the printed table and the SVG bar
 * chart. Every ratio is to the raw Deno loop, and higher is better for all of
 * them (for CPU per round trip the ratio is raw ÷ this).
 *
 * @module
 */

/** One ping-pong figure set (medians). */
export interface PingPong {
  rate: number;
  cpuUs: number;
  p50: number;
  p99: number;
  loadgenCpu: number;
  /**
   * Paired ratios to the raw loop (see paired.ts), above 1 better: rate ÷
   * raw rate, raw CPU ÷ CPU. Absent in older results, whose ratios are then
   * taken from the medians.
   */
  vsRaw?: { rate?: number; cpuUs?: number };
  /** Paired ratios to the copying raw loop, as `vsRaw`. */
  vsCopy?: { rate?: number; cpuUs?: number };
}

/** Everything one benchmark run measured. */
export interface BenchResults {
  machine: Record<string, unknown>;
  servers: {
    name: string;
    pingpong: Record<string, PingPong>;
    /**
     * MB/s, the server's CPU µs per MiB echoed, and the load generator's CPU
     * share while streaming.
     */
    stream?: {
      mbPerS: number;
      cpuUsPerMiB?: number;
      loadgenCpu?: number;
      /** Paired ratios to the raw loop, as {@linkcode PingPong.vsRaw}. */
      vsRaw?: { mbPerS?: number; cpuUsPerMiB?: number };
      /** Paired ratios to the copying raw loop. */
      vsCopy?: { mbPerS?: number; cpuUsPerMiB?: number };
    };
    idle?: { rssBefore: number; rssIdle: number; perConnectionKiB: number };
    peakRss?: number;
  }[];
  /** main_server.ts --workers 1 and 2 under the same load. */
  workers?: { workers: number; rate: number; shares: number[] }[];
}

/** The server every ratio is to. */
export const BASELINE = "raw Deno loop";

/**
 * The floor for owned chunks: the raw loop copying each read into an array
 * of its own. The plain-Protocol rows are also given as ratios to it.
 */
export const COPYING_BASELINE = "raw Deno loop, copying";

/** The rows compared with {@linkcode COPYING_BASELINE} as well. */
const OWNED_CHUNK_ROWS = ["Protocol echo (lib)", "EchoServer (lib)"];

type Server = BenchResults["servers"][number];

/** A ping-pong figure's ratios to the raw loop: paired, else of medians. */
function pingpongRatios(
  server: Server,
  base: Server | undefined,
  key: string,
): { rate?: number; cpuUs?: number } {
  const p = server.pingpong[key];
  const b = base?.pingpong[key];
  if (!p || !b) return {};
  if (server === base) return { rate: 1, cpuUs: 1 };
  return {
    rate: p.vsRaw?.rate ?? p.rate / b.rate,
    cpuUs: p.vsRaw?.cpuUs ?? b.cpuUs / p.cpuUs,
  };
}

/** Streaming's ratios to the raw loop: paired, else of medians. */
function streamRatios(
  server: Server,
  base: Server | undefined,
): { mbPerS?: number; cpuUsPerMiB?: number } {
  const s = server.stream;
  const b = base?.stream;
  if (!s || !b) return {};
  if (server === base) {
    return { mbPerS: 1, cpuUsPerMiB: b.cpuUsPerMiB ? 1 : undefined };
  }
  return {
    mbPerS: s.vsRaw?.mbPerS ?? s.mbPerS / b.mbPerS,
    cpuUsPerMiB: s.vsRaw?.cpuUsPerMiB ??
      (s.cpuUsPerMiB && b.cpuUsPerMiB
        ? b.cpuUsPerMiB / s.cpuUsPerMiB
        : undefined),
  };
}

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

const num = (n: number, digits = 0) =>
  n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });

/** The results as a plain-text table. */
export function renderTable(results: BenchResults): string {
  const base = results.servers.find((s) => s.name === BASELINE);
  const ratio = (value: number | undefined, of: number | undefined) =>
    value === undefined || !of ? "" : `×${(value / of).toFixed(2)}`;
  const times = (value: number | undefined) =>
    value === undefined ? "" : `×${value.toFixed(2)}`;
  const lines: string[] = [];
  const keys = [
    ...new Set(results.servers.flatMap((s) => Object.keys(s.pingpong))),
  ];
  const nameWidth = Math.max(24, ...results.servers.map((s) => s.name.length));
  for (const key of keys) {
    const [size, connections] = key.split(" x");
    lines.push(
      `ping-pong ${
        size.toUpperCase().replace("K", " KiB")
      } × ${connections} connections`,
    );
    lines.push(
      pad("", nameWidth, true) +
        pad("round trips/s", 15) + pad("", 7) +
        pad("CPU µs/rt", 11) + pad("", 7) +
        pad("p50 µs", 8) + pad("p99 µs", 8) + pad("loadgen CPU", 13),
    );
    for (const server of results.servers) {
      const p = server.pingpong[key];
      if (!p) continue;
      const r = pingpongRatios(server, base, key);
      lines.push(
        pad(server.name, nameWidth, true) +
          pad(num(p.rate), 15) + pad(times(r.rate), 7) +
          pad(p.cpuUs.toFixed(2), 11) + pad(times(r.cpuUs), 7) +
          pad(num(p.p50), 8) + pad(num(p.p99), 8) +
          pad(`${Math.round(p.loadgenCpu * 100)}%`, 13),
      );
    }
    lines.push("");
  }
  lines.push(
    pad("streaming and memory", nameWidth, true) +
      pad("MB/s", 10) + pad("", 7) +
      pad("CPU µs/MiB", 12) + pad("", 7) +
      pad("idle KiB/conn", 15) + pad("", 7) +
      pad("RSS MiB", 9) + pad("idle MiB", 10) + pad("peak MiB", 10) +
      pad("loadgen CPU", 13),
  );
  const mib = (n: number | undefined) =>
    n === undefined ? "" : (n / 1048576).toFixed(1);
  for (const server of results.servers) {
    if (!server.stream && !server.idle) continue;
    const r = streamRatios(server, base);
    lines.push(
      pad(server.name, nameWidth, true) +
        pad(server.stream ? num(server.stream.mbPerS) : "", 10) +
        pad(times(r.mbPerS), 7) +
        pad(
          server.stream?.cpuUsPerMiB === undefined
            ? ""
            : server.stream.cpuUsPerMiB.toFixed(0),
          12,
        ) +
        pad(times(r.cpuUsPerMiB), 7) +
        pad(server.idle ? server.idle.perConnectionKiB.toFixed(1) : "", 15) +
        pad(
          server.idle && base?.idle
            ? ratio(base.idle.perConnectionKiB, server.idle.perConnectionKiB)
            : "",
          7,
        ) +
        pad(mib(server.idle?.rssBefore), 9) +
        pad(mib(server.idle?.rssIdle), 10) +
        pad(mib(server.peakRss), 10) +
        pad(
          server.stream?.loadgenCpu === undefined
            ? ""
            : `${Math.round(server.stream.loadgenCpu * 100)}%`,
          13,
        ),
    );
  }
  const owned = results.servers.filter((server) =>
    OWNED_CHUNK_ROWS.includes(server.name)
  );
  if (results.servers.some((server) => server.name === COPYING_BASELINE)) {
    lines.push("");
    lines.push(
      `vs the ${COPYING_BASELINE} (paired ratios, above 1 better: rate or MB/s, then CPU)`,
    );
    for (const server of owned) {
      const cells = keys
        .filter((key) => server.pingpong[key]?.vsCopy)
        .map((key) => {
          const r = server.pingpong[key].vsCopy!;
          return `${key} ${times(r.rate)} ${times(r.cpuUs)}`;
        });
      const stream = server.stream?.vsCopy;
      if (stream) {
        cells.push(
          `stream ${times(stream.mbPerS)} ${times(stream.cpuUsPerMiB)}`,
        );
      }
      lines.push(
        `  ${pad(server.name, nameWidth - 2, true)}${cells.join("   ")}`,
      );
    }
  }
  if (results.workers?.length) {
    lines.push("");
    lines.push(
      "main_server.ts --workers (1 KiB × 100 connections, not pinned)",
    );
    const one = results.workers[0].rate;
    for (const w of results.workers) {
      const shares = w.shares.length > 1
        ? `  shares ${
          w.shares.map((x) => `${Math.round(x * 100)}%`).join(" / ")
        }`
        : "";
      lines.push(
        `  ${w.workers} worker(s): ${num(w.rate)} round trips/s  ×${
          (w.rate / one).toFixed(2)
        }${shares}`,
      );
    }
    if (Number(results.machine.cores) < 4) {
      lines.push(
        "  (on fewer than 4 cores the load generator competes with the workers: the ratio is only printed)",
      );
    }
  }
  lines.push("");
  lines.push(
    "Ratios are to the raw Deno loop; higher is better for all of them (CPU and memory: raw ÷ this).",
  );
  lines.push(
    "A rate or CPU ratio is the median over a server's runs of each run's ratio to the raw-loop runs just before and after it.",
  );
  return lines.join("\n");
}

const COLORS = [
  "#4e79a7",
  "#e15759",
  "#f28e2b",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
];

/** The ratios as an SVG bar chart, one group per figure. */
export function renderSvg(results: BenchResults): string {
  const base = results.servers.find((s) => s.name === BASELINE);
  if (!base) return "<svg xmlns='http://www.w3.org/2000/svg'/>\n";
  const groups: { label: string; values: (number | undefined)[] }[] = [];
  for (const key of Object.keys(base.pingpong)) {
    groups.push({
      label: `round trips/s ${key}`,
      values: results.servers.map((s) => pingpongRatios(s, base, key).rate),
    });
    groups.push({
      label: `CPU efficiency ${key}`,
      values: results.servers.map((s) => pingpongRatios(s, base, key).cpuUs),
    });
  }
  if (base.stream) {
    groups.push({
      label: "streaming MB/s",
      values: results.servers.map((s) => streamRatios(s, base).mbPerS),
    });
  }
  if (base.stream?.cpuUsPerMiB) {
    groups.push({
      label: "CPU efficiency streaming",
      values: results.servers.map((s) => streamRatios(s, base).cpuUsPerMiB),
    });
  }
  const bar = 12;
  const groupHeight = results.servers.length * bar + 18;
  const left = 170;
  const width = 760;
  const scale = 300; // pixels per 1.0
  const top = 40;
  const height = top + groups.length * groupHeight + 20 +
    results.servers.length * 16;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14">Echo servers, ratio to the raw Deno loop (higher is better)</text>`,
  ];
  groups.forEach((group, g) => {
    const y0 = top + g * groupHeight;
    out.push(`<text x="10" y="${y0 + 12}">${group.label}</text>`);
    group.values.forEach((value, i) => {
      if (value === undefined) return;
      const w = Math.min(value, 2) * scale;
      out.push(
        `<rect x="${left}" y="${y0 + i * bar}" width="${
          w.toFixed(1)
        }" height="${bar - 2}" fill="${COLORS[i % COLORS.length]}"/>`,
        `<text x="${left + w + 4}" y="${y0 + i * bar + 9}">${
          value.toFixed(2)
        }</text>`,
      );
    });
  });
  const axisBottom = top + groups.length * groupHeight;
  out.push(
    `<line x1="${left + scale}" y1="${top - 5}" x2="${
      left + scale
    }" y2="${axisBottom}" stroke="#333" stroke-dasharray="4 3"/>`,
    `<text x="${left + scale - 8}" y="${top - 8}">1.0</text>`,
  );
  results.servers.forEach((server, i) => {
    const y = axisBottom + 14 + i * 16;
    out.push(
      `<rect x="10" y="${y - 9}" width="10" height="10" fill="${
        COLORS[i % COLORS.length]
      }"/>`,
      `<text x="26" y="${y}">${server.name}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
