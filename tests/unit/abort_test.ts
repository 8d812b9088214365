// followSignal: what start() and negotiate use instead of AbortSignal.any().
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { followSignal } from "../../src/_abort.ts";

test("followSignal: the source's abort reaches the controller with the same reason", () => {
  const source = new AbortController();
  const target = new AbortController();
  followSignal(target, source.signal);
  const reason = new Error("user gave up");
  source.abort(reason);
  assert.equal(target.signal.aborted, true);
  assert.equal(target.signal.reason, reason);
});

test("followSignal: an already aborted source aborts at once; no source is a no-op", () => {
  const target = new AbortController();
  followSignal(target, AbortSignal.abort("early"));
  assert.equal(target.signal.reason, "early");
  const untouched = new AbortController();
  followSignal(untouched, undefined)();
  assert.equal(untouched.signal.aborted, false);
});

test("followSignal: after unfollowing, the source no longer aborts the controller", () => {
  const source = new AbortController();
  const target = new AbortController();
  const unfollow = followSignal(target, source.signal);
  unfollow();
  source.abort();
  assert.equal(target.signal.aborted, false);
});
