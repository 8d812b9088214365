/**
 * The cost of `for await` itself: an async iterator that does nothing but hand out numbers (one
 * resolved promise and one result object per item, the least the protocol allows), read with
 * `for await`. `deno run bench/for_await_floor.ts`. Any stream read with `for await` pays at least
 * this per item on top of its receive path; bench/README.md compares it with the stream rows.
 *
 * @module
 */
import { cpuMicros } from "./_measure.ts";

const N = 200_000;

class Counting implements AsyncIterableIterator<number> {
  #i = 0;
  next(): Promise<IteratorResult<number, undefined>> {
    return this.#i < N
      ? Promise.resolve({ value: this.#i++, done: false })
      : Promise.resolve({ value: undefined, done: true });
  }
  [Symbol.asyncIterator](): AsyncIterableIterator<number> {
    return this;
  }
}

if (import.meta.main) {
  // The first rounds warm up; the later ones are the steady state.
  for (let round = 1; round <= 10; round++) {
    const cpu0 = cpuMicros();
    let n = 0;
    for await (const _ of new Counting()) n++;
    if (n !== N) throw new Error(`read ${n} items`);
    console.log(`round ${round}: ${((cpuMicros() - cpu0) / N).toFixed(3)} µs CPU per item`);
  }
}
