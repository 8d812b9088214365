// Measuring helpers shared by the benchmark children: CPU time of this process, GC, percentiles.
import process from "node:process";

/**
 * CPU time (user + system, all threads) this process has used so far, in µs. Deno implements
 * `process.cpuUsage()` with getrusage(RUSAGE_SELF), so V8's GC threads and the runtime's I/O
 * threads count too: what a user would pay for the client.
 */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Wall time (ms) and CPU time (µs) of one measured window. */
export interface Window {
  wallMs: number;
  cpuUs: number;
}

/** Runs `fn` and measures its wall and CPU time. */
export async function measure<T>(fn: () => Promise<T>): Promise<{ value: T } & Window> {
  const profiler = PROFILE_DIR ? await windowProfiler() : undefined;
  if (MARK) console.log(`\n${WINDOW_START}`);
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  const value = await fn();
  const wallMs = performance.now() - t0;
  const cpuUs = cpuMicros() - cpu0;
  if (MARK) console.log(`\n${WINDOW_END}`);
  await profiler?.stop();
  return { value, wallMs, cpuUs };
}

// bench/profile.ts --window sets this: a CPU profile of each measured window (not of setup,
// connecting or warm-up) goes to this directory, taken through `node:inspector`.
const PROFILE_DIR = process.env.BENCH_PROFILE_WINDOW;
const PROFILE_INTERVAL = Number(process.env.BENCH_PROFILE_INTERVAL ?? "100");
let profiles = 0;
// bench/profile.ts --jit sets this: the window's bounds are printed among V8's --trace-opt and
// --trace-deopt lines (which V8 buffers apart from console.log: the bounds are approximate).
const MARK = process.env.BENCH_MARK_WINDOW !== undefined;
/** The lines that bound a measured window on stdout (BENCH_MARK_WINDOW). */
export const WINDOW_START = "BENCH-WINDOW-START";
/** See {@linkcode WINDOW_START}. */
export const WINDOW_END = "BENCH-WINDOW-END";

/** Starts a CPU profile of the window when asked to; `stop()` writes it. */
async function windowProfiler(): Promise<{ stop(): Promise<void> } | undefined> {
  if (!PROFILE_DIR) return undefined;
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => error ? reject(error) : resolve(result))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: PROFILE_INTERVAL });
  await post("Profiler.start");
  return {
    async stop() {
      const { profile } = await post("Profiler.stop") as { profile: unknown };
      session.disconnect();
      // node:fs, not Deno.writeTextFile: the Node children (bench/node_child.ts) profile too.
      const { writeFile } = await import("node:fs/promises");
      await writeFile(`${PROFILE_DIR}/window-${profiles++}.cpuprofile`, JSON.stringify(profile));
    },
  };
}

/**
 * Full GCs (the children run with `--v8-flags=--expose-gc`), each followed by a timer turn for
 * finalizers and weak-reference cleanup; with fewer rounds the heap figure of one client varied
 * by up to 1.5 KB per connection between runs, with ten it repeats to 0.01 KB.
 */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The p-th percentile (0..100) of ascending `sorted`, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** The median of some numbers (mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
