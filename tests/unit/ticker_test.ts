// The shared timer behind keep-alive and server timeouts: one runtime timer for every connection,
// gone with the last one (the sanitizers fail a test that leaves it behind).
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { chained, rearmFromEvent, startTicking, stopTicking } from "../../src/_ticker.ts";

/** Resolves after `n` ticks of a new member with `step`, then stops it. */
function ticks(step: number, n: number): { done: Promise<number[]> } {
  const times: number[] = [];
  const done = Promise.withResolvers<number[]>();
  const member = startTicking(step, () => {
    times.push(performance.now());
    if (times.length === n) {
      stopTicking(member);
      done.resolve(times);
    }
  });
  return { done: done.promise };
}

test("ticker: members with different steps tick at their own pace, no earlier than due", async () => {
  const start = performance.now();
  const [fast, slow] = await Promise.all([ticks(5, 6).done, ticks(20, 2).done]);
  // A timer may fire up to 1 ms early; the ticker runs what is due within that millisecond.
  assert.ok(fast[0] - start >= 4, `first fast tick after ${fast[0] - start} ms`);
  for (let i = 1; i < fast.length; i++) assert.ok(fast[i] - fast[i - 1] >= 4);
  assert.ok(slow[1] - slow[0] >= 19, `slow ticks ${slow[1] - slow[0]} ms apart`);
  assert.ok(slow[0] - start >= 19);
});

test("ticker: a member stopped by another member's tick never ticks again", async () => {
  let victimTicks = 0;
  const victim = startTicking(5, () => victimTicks++);
  const done = Promise.withResolvers<void>();
  let killerTicks = 0;
  const killer = startTicking(5, () => {
    killerTicks++;
    if (killerTicks === 1) stopTicking(victim);
    if (killerTicks === 3) {
      stopTicking(killer);
      done.resolve();
    }
  });
  await done.promise;
  assert.ok(victimTicks <= 1, `the stopped member ticked ${victimTicks} times`);
});

test("ticker: a member added by a tick is scheduled; stopping twice is harmless", async () => {
  const done = Promise.withResolvers<void>();
  const outer = startTicking(5, () => {
    stopTicking(outer);
    stopTicking(outer);
    const inner = startTicking(5, () => {
      stopTicking(inner);
      done.resolve();
    });
  });
  await done.promise;
  stopTicking(undefined);
});

test("ticker: a tick that throws does not stop the others", async () => {
  // The error is reported like any exception in a timer callback; this test expects it.
  const errors: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    errors.push(event.error);
    event.preventDefault();
  };
  globalThis.addEventListener("error", onError);
  try {
    const thrower = startTicking(5, () => {
      stopTicking(thrower);
      throw new Error("tick failed");
    });
    const { done } = ticks(5, 3);
    assert.equal((await done).length, 3);
    assert.equal(errors.length, 1);
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});

test("ticker: a timer set from its own callback is chained; rearmFromEvent sets it again, due as before", async () => {
  const times: number[] = [];
  const second = Promise.withResolvers<void>();
  const third = Promise.withResolvers<void>();
  const member = startTicking(20, () => {
    times.push(performance.now());
    if (times.length === 2) second.resolve();
    if (times.length === 3) third.resolve();
  });
  // Set by startTicking, outside the timer's callback.
  assert.equal(chained, false);
  await second.promise;
  // Set again by its own callback: a chain, which Chrome throttles in hidden tabs.
  assert.equal(chained, true);
  const due = member.due;
  rearmFromEvent();
  assert.equal(chained, false);
  assert.equal(member.due, due);
  await third.promise;
  // Not earlier than due: the timer was set again for the same time, not restarted.
  assert.ok(times[2] >= due - 1, `ticked ${due - times[2]} ms early`);
  stopTicking(member);
  assert.equal(chained, false);
});
