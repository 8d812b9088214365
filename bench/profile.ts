/**
 * CPU profile of one benchmark child: `deno run -A bench/profile.ts [--client ours]
 * [--scenario stream] [--top 25] [--url HUB]`. Starts the ASP.NET Core hub (unless `--url`), runs
 * `bench/child.ts` under `deno run --cpu-prof`, and prints the functions with the most self time:
 * all of them, then those in src/ only, then self time grouped by where the code lives. The
 * profile covers the whole child (connect and warm-up too, a few % of the samples).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { childArgs, interopHub } from "./_launch.ts";

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

function summarize(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time is the delta to the next one (the last sample gets the previous delta).
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const file = url.startsWith(REPO) ? url.slice(REPO.length) : url.replace(/^.*\/npm\//, "npm/");
    const key = `${functionName || "(anonymous)"}  ${file ? `${file}:${lineNumber + 1}` : ""}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const place = where(url, functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
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
    },
  });
  const hub = await interopHub(args.values.url);
  if (!hub) {
    console.log("profile: needs `dotnet` (or --url of a running hub).");
    return;
  }
  const dir = args.values.keep ?? await Deno.makeTempDir({ prefix: "bench-prof-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: childArgs(args.values.client, args.values.scenario, hub.hubUrl, [
        "--cpu-prof",
        `--cpu-prof-dir=${dir}`,
        `--cpu-prof-interval=${args.values.interval}`,
      ]),
      stdin: "null",
      env: { BENCH_SCALE: args.values.scale },
    }).output();
    const text = new TextDecoder();
    if (!output.success) {
      throw new Error(`child failed:\n${text.decode(output.stderr)}${text.decode(output.stdout)}`);
    }
    console.log(
      `${args.values.client} ${args.values.scenario}: ${text.decode(output.stdout).trim()}`,
    );
    const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".cpuprofile"));
    if (!file) throw new Error(`no .cpuprofile in ${dir}`);
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`)) as CpuProfile;
    console.log(summarize(profile, Number(args.values.top)));
    if (args.values.keep) console.log(`\nprofile kept in ${dir}/${file.name}`);
  } finally {
    if (!args.values.keep) await Deno.remove(dir, { recursive: true });
    await hub.close();
  }
}

if (import.meta.main) await main();
