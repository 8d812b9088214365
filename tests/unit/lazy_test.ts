// load(): the bounded wait for a dynamic import (stateful reconnect's module, which a browser
// fetches as a bundle chunk).
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { load } from "../../src/_lazy.ts";

const never = new Promise<never>(() => {});

test("load: resolves with the module", async () => {
  const module = await load(import("../../src/_within.ts"), "within", {
    signal: new AbortController().signal,
    timeout: 10_000,
  });
  assert.equal(typeof module.within, "function");
});

test("load: a failed import rejects with an Error naming what, the failure as cause", async () => {
  const failure = new TypeError("Failed to fetch dynamically imported module");
  const error = await load(Promise.reject(failure), "stateful reconnect", {
    signal: new AbortController().signal,
    timeout: 10_000,
  }).catch((e) => e);
  assert.equal(error.message, "Could not load stateful reconnect.");
  assert.equal(error.cause, failure);
});

test("load: an import that never settles ends at the timeout, leaving no timer", async () => {
  const error = await load(never, "stateful reconnect", {
    signal: new AbortController().signal,
    timeout: 20,
  }).catch((e) => e);
  assert.ok(error instanceof DOMException);
  assert.equal(error.name, "TimeoutError");
  assert.equal(error.message, "Loading stateful reconnect took longer than 20 ms.");
});

test("load: the signal ends the wait with its reason, before or during it", async () => {
  const controller = new AbortController();
  const waiting = load(never, "x", { signal: controller.signal, timeout: 10_000 });
  const reason = new Error("stopped");
  controller.abort(reason);
  await assert.rejects(waiting, (e) => e === reason);
  await assert.rejects(
    load(Promise.resolve(1), "x", { signal: controller.signal, timeout: 10_000 }),
    (e) => e === reason,
  );
});
