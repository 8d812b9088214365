/**
 * Mutation fuzzing of every parser of the client, seeded with traffic recorded from the ASP.NET
 * Core interop hub (./corpus, see record.ts). See README.md.
 *
 * ```sh
 * deno task fuzz                                  # every target, 1 000 000 inputs each
 * deno task fuzz --target sse --inputs 10000 --seed 42
 * deno task fuzz --target json --seed 42 --start 1234 --inputs 1   # replay one input
 * ```
 *
 * Input i of a target depends only on (seed, i): a failure prints both, and replays with
 * `--seed S --start I`.
 *
 * @module
 */
import { FuzzFailure, Rng, type Target, timed, toHex } from "./_util.ts";
import { jsonTarget, knownFindings as jsonFindings } from "./json.ts";
import { msgpackTarget } from "./msgpack.ts";
import { handshakeTarget } from "./handshake.ts";
import { negotiateTarget } from "./negotiate.ts";
import { sseTarget } from "./sse.ts";
import { longPollingTarget } from "./long_polling.ts";
import { statefulTarget } from "./stateful.ts";

/** Every target, in run order. */
export const TARGETS: readonly Target[] = [
  jsonTarget,
  msgpackTarget,
  handshakeTarget,
  negotiateTarget,
  sseTarget,
  longPollingTarget,
  statefulTarget,
];

/** The longest one input may take, in ms (inputs are at most a few kB). */
export const INPUT_BUDGET_MS = 250;

/** Options of {@linkcode fuzz}. */
export interface FuzzOptions {
  readonly seed: number;
  readonly start?: number;
  readonly inputs: number;
  /** Run the scaling check (n vs 8n) too. */
  readonly scale?: boolean;
  readonly log?: (line: string) => void;
}

/** What one target's run did. */
export interface FuzzReport {
  readonly target: string;
  readonly inputs: number;
  readonly ms: number;
  readonly slowestMs: number;
  readonly scaleRatio: number | undefined;
}

/** The PRNG of input `index` under `seed`. */
function rngOf(seed: number, index: number): Rng {
  return new Rng((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(index, 0x9e3779b1)) >>> 0);
}

function show(input: Uint8Array): string {
  const text = new TextDecoder().decode(input);
  return `hex ${toHex(input)}\n  text ${JSON.stringify(text)}`;
}

/** Runs `inputs` inputs of one target; throws (after printing the replay line) on a failure. */
export async function fuzz(target: Target, options: FuzzOptions): Promise<FuzzReport> {
  const { seed, inputs } = options;
  const start = options.start ?? 0;
  const log = options.log ?? console.log;
  let slowest = 0;
  const began = performance.now();
  for (let i = start; i < start + inputs; i++) {
    const rng = rngOf(seed, i);
    let input: Uint8Array | undefined;
    const t = performance.now();
    try {
      input = target.input(rng);
      await target.run(input, rng);
    } catch (error) {
      log(`FAIL ${target.name} --seed ${seed} --start ${i}`);
      if (input) log(`  input ${show(input)}`);
      log(`  ${error instanceof FuzzFailure ? error.message : Deno.inspect(error)}`);
      throw error;
    }
    const ms = performance.now() - t;
    if (ms > slowest) slowest = ms;
    if (ms > INPUT_BUDGET_MS) {
      log(`SLOW ${target.name} --seed ${seed} --start ${i}: ${ms.toFixed(1)} ms`);
      if (input) log(`  input ${show(input)}`);
      throw new FuzzFailure(`input ${i} took ${ms.toFixed(1)} ms (budget ${INPUT_BUDGET_MS} ms)`);
    }
  }
  const ms = performance.now() - began;
  let scaleRatio: number | undefined;
  if (options.scale && target.scale) {
    // Linear work takes 8x as long for 8x the size; allow noise up to 24x.
    const n = 1 << 14;
    const small = target.scale(n);
    const large = target.scale(8 * n);
    await timed(small);
    const a = await timed(small, 5);
    const b = await timed(large, 5);
    scaleRatio = b / Math.max(a, 0.05);
    if (scaleRatio > 24) {
      throw new FuzzFailure(
        `${target.name}: 8x the size took ${scaleRatio.toFixed(1)}x the time (super-linear)`,
      );
    }
  }
  return { target: target.name, inputs, ms, slowestMs: slowest, scaleRatio };
}

function parseArgs(args: string[]) {
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i === -1 ? undefined : args[i + 1];
  };
  const seedArg = get("seed");
  return {
    target: get("target"),
    inputs: Number(get("inputs") ?? 1_000_000),
    seed: seedArg === undefined ? 0x5eed : Number(seedArg),
    start: Number(get("start") ?? 0),
  };
}

async function main(): Promise<void> {
  const { target, inputs, seed, start } = parseArgs(Deno.args);
  const targets = target === undefined ? TARGETS : TARGETS.filter((t) => t.name === target);
  if (targets.length === 0) {
    console.error(`no target ${target}; targets: ${TARGETS.map((t) => t.name).join(", ")}`);
    Deno.exit(2);
  }
  console.log(`fuzz seed ${seed}, ${inputs} inputs per target from ${start}`);
  for (const t of targets) {
    try {
      const r = await fuzz(t, { seed, start, inputs, scale: true });
      console.log(
        `${r.target.padEnd(13)} ${r.inputs} inputs in ${(r.ms / 1000).toFixed(1)} s ` +
          `(${Math.round(r.inputs / (r.ms / 1000))}/s), slowest ${r.slowestMs.toFixed(1)} ms` +
          (r.scaleRatio === undefined ? "" : `, 8x size: ${r.scaleRatio.toFixed(1)}x time`),
      );
    } catch {
      Deno.exitCode = 1;
    }
  }
  if (jsonFindings.v8EscapedKeys > 0) {
    console.log(
      `known finding: V8's JSON.parse returned a cached key for an escaped one in ${jsonFindings.v8EscapedKeys} inputs`,
    );
  }
}

if (import.meta.main) await main();
