/**
 * CPU profile of one benchmark child: `deno run -A bench/profile.ts [--client ours]
 * [--scenario stream] [--top 25] [--url HUB] [--window]`. Starts the ASP.NET Core hub (unless
 * `--url`), runs `bench/child.ts` under `deno run --cpu-prof`, and prints the functions with the
 * most self time: all of them, then those in src/ only, then self time grouped by where the code
 * lives. The profile covers the whole child (connect and warm-up too, a few % of the samples;
 * for a replayed stream, building the recorded messages too). With `--window`, only the measured
 * windows are profiled (the child starts and stops V8's profiler through `node:inspector`).
 * With `--jit`, no profile: the child runs with V8's `--trace-opt --trace-deopt`, and what V8
 * compiled and deoptimized during the measured windows is summed up by function (compilation
 * runs on other threads, but its CPU time counts in the window's CPU).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { childArgs, interopHub } from "./_launch.ts";
import { WINDOW_END, WINDOW_START } from "./_measure.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const REPO = new URL("../", import.meta.url).href;

function where(url: string, name: string): string {
  if (url.startsWith(REPO)) return url.slice(REPO.length).split("/").slice(0, -1).join("/") || ".";
  if (url.includes("/npm/")) return "npm packages";
  if (url.startsWith("ext:") || url.startsWith("node:")) return "Deno runtime (ext:, node:)";
  if (!url) return name.startsWith("(") ? name : "V8 builtins / native";
  return url;
}

function summarize(profiles: readonly CpuProfile[], top: number): string {
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<number, number>();
    for (let i = 0; i < profile.samples.length; i++) {
      // A sample's time is the delta to the next one (the last sample gets the previous delta).
      const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
      selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
      total += dt;
    }
    for (const [id, us] of selfUs) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      const file = url.startsWith(REPO)
        ? url.slice(REPO.length)
        : url.replace(/^.*\/npm\//, "npm/");
      const key = `${functionName || "(anonymous)"}  ${file ? `${file}:${lineNumber + 1}` : ""}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + us);
      const place = where(url, functionName);
      byPlace.set(place, (byPlace.get(place) ?? 0) + us);
    }
  }
  const busy = total - (byPlace.get("(idle)") ?? 0);
  const line = (key: string, us: number) =>
    `${(us / 1000).toFixed(1).padStart(8)} ms ${(100 * us / busy).toFixed(1).padStart(5)}%  ${key}`;
  const sorted = [...byFunction].sort((a, b) => b[1] - a[1]);
  const out = [
    `total ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms not idle ` +
    `(percentages are of the non-idle time)`,
    "",
    `top ${top} functions by self time:`,
    ...sorted.filter(([k]) => !k.startsWith("(idle)")).slice(0, top).map(([k, us]) => line(k, us)),
    "",
    "src/ functions by self time:",
    ...sorted.filter(([k]) => k.includes(" src/")).slice(0, top).map(([k, us]) => line(k, us)),
    "",
    "self time by place:",
    ...[...byPlace].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1])
      .map(([k, us]) => line(k, us)),
  ];
  return out.join("\n");
}

/**
 * What V8 compiled and deoptimized inside the measured windows, from `--trace-opt` and
 * `--trace-deopt` lines: compile time (all phases) by function and tier, deoptimizations by
 * function and reason.
 */
function summarizeJit(stdout: string, top: number): string {
  const compiled = new Map<string, { ms: number; count: number }>();
  const deopts = new Map<string, number>();
  let inside = false;
  for (const line of stdout.split("\n")) {
    if (line.includes(WINDOW_START)) inside = true;
    if (line.includes(WINDOW_END)) inside = false;
    if (!inside) continue;
    const done = line.match(
      /completed compiling .*?<JSFunction (?:([^\s(]\S*) )?\(sfi.*?\(target (\w+)\)( OSR)? - took ([\d.]+), ([\d.]+), ([\d.]+) ms/,
    );
    if (done) {
      const key = `${done[1] || "(anonymous)"} ${done[2]}${done[3] ?? ""}`;
      const entry = compiled.get(key) ?? { ms: 0, count: 0 };
      entry.ms += Number(done[4]) + Number(done[5]) + Number(done[6]);
      entry.count++;
      compiled.set(key, entry);
      continue;
    }
    const deopt = line.match(
      /bailout \(kind: [^,]*, reason: (.*?)\): begin\. deoptimizing .*?<JSFunction (?:([^\s(]\S*) )?\(sfi/,
    );
    if (deopt) {
      const key = `${deopt[2] || "(anonymous)"}: ${deopt[1]}`;
      deopts.set(key, (deopts.get(key) ?? 0) + 1);
    }
  }
  const total = [...compiled.values()].reduce((sum, e) => sum + e.ms, 0);
  return [
    `compiled in the window: ${total.toFixed(1)} ms (${
      [...compiled.values()].reduce((n, e) => n + e.count, 0)
    } compilations)`,
    ...[...compiled].sort((a, b) => b[1].ms - a[1].ms).slice(0, top).map(([key, e]) =>
      `${e.ms.toFixed(2).padStart(8)} ms  ${String(e.count).padStart(3)}×  ${key}`
    ),
    "",
    `deoptimized in the window: ${[...deopts.values()].reduce((a, b) => a + b, 0)}`,
    ...[...deopts].sort((a, b) => b[1] - a[1]).slice(0, top).map(([key, n]) =>
      `${String(n).padStart(4)}×  ${key}`
    ),
  ].join("\n");
}

async function main(): Promise<void> {
  const args = parseArgs({
    args: Deno.args,
    options: {
      client: { type: "string", default: "ours" },
      scenario: { type: "string", default: "stream" },
      top: { type: "string", default: "25" },
      url: { type: "string" },
      keep: { type: "string" },
      scale: { type: "string", default: "5" },
      interval: { type: "string", default: "100" },
      window: { type: "boolean", default: false },
      jit: { type: "boolean", default: false },
    },
  });
  const window = args.values.window;
  const jit = args.values.jit;
  const hub = await interopHub(args.values.url);
  if (!hub) {
    console.log("profile: needs `dotnet` (or --url of a running hub).");
    return;
  }
  const dir = args.values.keep ?? await Deno.makeTempDir({ prefix: "bench-prof-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: childArgs(
        args.values.client,
        args.values.scenario,
        hub.hubUrl,
        jit ? ["--v8-flags=--trace-opt,--trace-deopt"] : window ? [] : [
          "--cpu-prof",
          `--cpu-prof-dir=${dir}`,
          `--cpu-prof-interval=${args.values.interval}`,
        ],
      ),
      stdin: "null",
      env: {
        BENCH_SCALE: args.values.scale,
        ...(window && !jit && {
          BENCH_PROFILE_WINDOW: dir,
          BENCH_PROFILE_INTERVAL: args.values.interval,
        }),
        ...(jit && { BENCH_MARK_WINDOW: "1" }),
      },
    }).output();
    const text = new TextDecoder();
    if (!output.success) {
      throw new Error(`child failed:\n${text.decode(output.stderr)}${text.decode(output.stdout)}`);
    }
    const stdout = text.decode(output.stdout);
    // V8's trace lines (--jit) may share a line with it.
    const result = stdout.match(/RESULT \{.*\}/g)?.at(-1) ?? "";
    console.log(`${args.values.client} ${args.values.scenario}: ${result}`);
    if (jit) {
      console.log(summarizeJit(stdout, Number(args.values.top)));
      return;
    }
    const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile"));
    if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
    const profiles: CpuProfile[] = [];
    for (const file of files) {
      profiles.push(JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`)) as CpuProfile);
    }
    if (window) console.log(`${profiles.length} measured window(s) profiled`);
    console.log(summarize(profiles, Number(args.values.top)));
    if (args.values.keep) console.log(`\nprofiles kept in ${dir}`);
  } finally {
    if (!args.values.keep) await Deno.remove(dir, { recursive: true });
    await hub.close();
  }
}

if (import.meta.main) await main();
