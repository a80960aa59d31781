/**
 * The TLS echo of two checkouts of the server program, in turns: each run
 * starts one checkout's `main_server.ts --tls-cert ...` and drives it with
 * 10 Deno TLS clients ping-ponging 1 KiB for 2 s (after 0.5 s of warm-up);
 * five pairs, the median of each pair's ratio (new over old). The clients
 * run in this process, unpinned: a comparison of two versions of the
 * server, not a figure of its own.
 *
 * `deno run -A bench/tls_paired.ts OLD_DIR NEW_DIR CERT KEY CA`
 *
 * @module
 */

const [oldDir, newDir, certFile, keyFile, caFile] = Deno.args;
const ca = await Deno.readTextFile(caFile);
async function start(dir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${dir}/main_server.ts`,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--log-level",
      "warning",
      "--tls-cert",
      certFile,
      "--tls-key",
      keyFile,
    ],
    stderr: "piped",
    stdout: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const r = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let t = "";
  while (!/port (\d+)/.test(t)) t += (await r.read()).value ?? "";
  (async () => {
    while (!(await r.read()).done) { /* drain the log */ }
  })();
  return { child, port: Number(t.match(/port (\d+)/)![1]) };
}
async function load(port: number, seconds: number): Promise<number> {
  const msg = new Uint8Array(1024).fill(120);
  let trips = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: 10 }, async () => {
    const c = await Deno.connectTls({
      hostname: "localhost",
      port,
      caCerts: [ca],
    });
    const buf = new Uint8Array(1024);
    while (performance.now() < end) {
      await c.write(msg);
      let got = 0;
      while (got < 1024) got += (await c.read(buf.subarray(got)))!;
      trips++;
    }
    c.close();
  }));
  return trips / seconds;
}
const results: { old: number[]; new: number[] } = { old: [], new: [] };
for (let i = 0; i < 5; i++) {
  for (const [name, dir] of [["old", oldDir], ["new", newDir]] as const) {
    const s = await start(dir);
    await load(s.port, 0.5); // warm-up
    results[name].push(await load(s.port, 2));
    s.child.kill("SIGKILL");
    await s.child.status;
  }
}
const med = (a: number[]) =>
  [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const ratios = results.new.map((n, i) => n / results.old[i]);
console.log(
  "old",
  results.old.map(Math.round).join(" "),
  "median",
  Math.round(med(results.old)),
);
console.log(
  "new",
  results.new.map(Math.round).join(" "),
  "median",
  Math.round(med(results.new)),
);
console.log(
  "paired new/old",
  ratios.map((r) => r.toFixed(3)).join(" "),
  "median",
  med(ratios).toFixed(3),
);
