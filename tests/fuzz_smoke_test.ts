// A short fixed-seed run of every fuzzer (tests/fuzz): seconds, not minutes. The full run is
// `deno task fuzz` (tests/fuzz/README.md).
import { fuzz, TARGETS } from "./fuzz/main.ts";

const SEED = 0x5eed;
const INPUTS = 3_000;

for (const target of TARGETS) {
  Deno.test(`fuzz smoke: ${target.name}, ${INPUTS} inputs, seed ${SEED}`, async () => {
    await fuzz(target, { seed: SEED, inputs: INPUTS, log: console.error });
  });
}
