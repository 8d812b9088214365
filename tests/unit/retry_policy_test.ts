// Retry policies: the default delays, array policies, and validation.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import type { RetryContext } from "../../mod.ts";
import { DEFAULT_RETRY_DELAYS, delaysPolicy } from "../../src/retry_policy.ts";

function context(previousRetryCount: number): RetryContext {
  return { previousRetryCount, elapsedMilliseconds: 0, retryReason: new Error("lost") };
}

function sequence(policy: ReturnType<typeof delaysPolicy>, n: number): (number | null)[] {
  return Array.from({ length: n }, (_, i) => policy.nextRetryDelayInMilliseconds(context(i)));
}

test("default delays are [0, 2000, 10000, 30000], then null", () => {
  assert.deepEqual([...DEFAULT_RETRY_DELAYS], [0, 2_000, 10_000, 30_000]);
  assert.deepEqual(sequence(delaysPolicy(DEFAULT_RETRY_DELAYS), 6), [
    0,
    2_000,
    10_000,
    30_000,
    null,
    null,
  ]);
});

test("an array policy walks the array by previousRetryCount, then gives up", () => {
  const policy = delaysPolicy([5, 0, 100]);
  assert.deepEqual(sequence(policy, 5), [5, 0, 100, null, null]);
  // The answer depends only on the count, not on time or reason.
  assert.equal(
    policy.nextRetryDelayInMilliseconds({
      previousRetryCount: 1,
      elapsedMilliseconds: 1e9,
      retryReason: new Error("x"),
    }),
    0,
  );
});

test("an empty array never retries", () => {
  assert.equal(delaysPolicy([]).nextRetryDelayInMilliseconds(context(0)), null);
});

test("the policy copies the array: later changes to it do not matter", () => {
  const delays = [1, 2];
  const policy = delaysPolicy(delays);
  delays[0] = 999;
  delays.push(3);
  assert.deepEqual(sequence(policy, 3), [1, 2, null]);
});

test("invalid delays → TypeError naming the value", () => {
  for (const bad of [-1, NaN, "5", null, undefined, {}]) {
    assert.throws(
      () => delaysPolicy([0, bad as number]),
      (error: unknown) =>
        error instanceof TypeError && /numbers of ms from 0 to 2147483647/.test(error.message),
      String(bad),
    );
  }
});

test({
  // Regression (fixed): src/retry_policy.ts:56 accepts Infinity and delays above 2^31-1 ms (`!(delay >= 0)` is
  // the only check). The reconnect loop's sleep() (src/hub_connection.ts:1211) hands them to
  // setTimeout, which clamps anything that does not fit in 32 bits to 1 ms: a user's
  // "wait forever"/"wait 30 days" becomes an immediate retry. Expected: TypeError (or a clamp
  // to a finite maximum documented as such).
  name: "delays that setTimeout cannot honour → TypeError",
  fn() {
    assert.throws(() => delaysPolicy([Infinity]), TypeError);
    assert.throws(() => delaysPolicy([2 ** 31]), TypeError);
  },
});
