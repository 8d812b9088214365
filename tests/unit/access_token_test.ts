// AccessTokenProvider: the factory is asked per request, aborts end the wait at once, a
// redirect's token is never refreshed, and factory faults become clear Errors.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { AccessTokenProvider } from "../../src/http/_access_token.ts";

test("AccessTokenProvider: without a factory there is no token and nothing to refresh", async () => {
  const tokens = new AccessTokenProvider();
  assert.equal(await tokens.get(), undefined);
  assert.equal(await tokens.refresh(), undefined);
});

test("AccessTokenProvider: the factory is asked for every get and every refresh", async () => {
  let calls = 0;
  const tokens = new AccessTokenProvider(() => `t${++calls}`);
  assert.equal(await tokens.get(), "t1");
  assert.equal(await tokens.get(), "t2");
  assert.equal(await tokens.refresh(), "t3");
  const asynchronous = new AccessTokenProvider(() => Promise.resolve("async"));
  assert.equal(await asynchronous.get(), "async");
});

test("AccessTokenProvider: an empty string means no token", async () => {
  const tokens = new AccessTokenProvider(() => "");
  assert.equal(await tokens.get(), undefined);
  assert.equal(await tokens.refresh(), undefined);
});

test("AccessTokenProvider: an abort rejects at once with the reason while the factory hangs", async () => {
  let calls = 0;
  const tokens = new AccessTokenProvider(() => {
    calls++;
    return new Promise<string>(() => {});
  });
  const controller = new AbortController();
  const reason = new Error("stopped");
  const pending = tokens.get(controller.signal);
  controller.abort(reason);
  await assert.rejects(pending, (error: unknown) => error === reason);
  assert.equal(calls, 1);

  const refreshing = tokens.refresh(AbortSignal.abort(reason));
  await assert.rejects(refreshing, (error: unknown) => error === reason);
  assert.equal(calls, 1, "an already aborted signal does not call the factory");
});

test("AccessTokenProvider: a factory settling after the abort is not an unhandled rejection", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    const late = Promise.withResolvers<string>();
    const lateResult = Promise.withResolvers<string>();
    let n = 0;
    const tokens = new AccessTokenProvider(() => ++n === 1 ? late.promise : lateResult.promise);
    for (const settle of [() => late.reject(new Error("late")), () => lateResult.resolve("x")]) {
      const controller = new AbortController();
      const pending = tokens.get(controller.signal);
      controller.abort(new Error("abort"));
      await assert.rejects(pending, /abort/);
      settle();
    }
    // One turn of the event loop: the runtime reports unhandled rejections at its end.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(unhandled, []);
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
});

test("AccessTokenProvider: a factory that throws, rejects or returns a non-string → Error with cause", async () => {
  const boom = new Error("no session");
  const wrong = { token: "t" };
  const cases: [() => string | Promise<string>, RegExp, unknown][] = [
    [
      () => {
        throw boom;
      },
      /^accessTokenFactory failed: no session$/,
      boom,
    ],
    [() => Promise.reject(boom), /^accessTokenFactory failed: no session$/, boom],
    [() => 42 as unknown as string, /returned number instead of a string/, 42],
    [() => wrong as unknown as string, /returned object instead of a string/, wrong],
  ];
  for (const [factory, pattern, cause] of cases) {
    await assert.rejects(new AccessTokenProvider(factory).get(), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, pattern);
      assert.equal(error.cause, cause);
      return true;
    });
  }
});

test('AccessTokenProvider: null, undefined and "" from the factory mean no token', async () => {
  for (const none of [null, undefined, "", Promise.resolve(null)]) {
    const tokens = new AccessTokenProvider(() => none as unknown as string);
    assert.equal(await tokens.get(), undefined, String(none));
  }
});

test("AccessTokenProvider: a redirect's token replaces the factory's and is not refreshable", async () => {
  let calls = 0;
  const tokens = new AccessTokenProvider(() => `app${++calls}`);
  tokens.override("azure");
  assert.equal(await tokens.get(), "azure");
  assert.equal(await tokens.get(), "azure");
  assert.equal(await tokens.refresh(), undefined);
  assert.equal(calls, 0);
  // Back to the factory, for a fresh negotiate from the original URL.
  tokens.override(undefined);
  assert.equal(await tokens.get(), "app1");
  assert.equal(await tokens.refresh(), "app2");
});
