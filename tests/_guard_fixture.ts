// A fixture for guard_test.ts (not a test file itself: run by it in a child `deno test`).
import "./_guard.ts";

Deno.test("fixture: a clean test", () => {});

Deno.test("fixture: rejects in the background", async () => {
  Promise.reject(new Error("left behind"));
  await Promise.resolve();
});

Deno.test({
  name: "fixture: throws in a timer",
  async fn() {
    const fired = Promise.withResolvers<void>();
    setTimeout(() => {
      fired.resolve();
      throw new Error("thrown in a timer");
    }, 0);
    await fired.promise;
  },
});

Deno.test("fixture: rejects as it returns", () => {
  Promise.reject(new Error("at the very end"));
});

Deno.test("fixture: handles its own rejection", async () => {
  const seen: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    seen.push(event.reason);
    event.preventDefault();
  };
  addEventListener("unhandledrejection", onUnhandled);
  try {
    Promise.reject(new Error("expected"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (seen.length !== 1) throw new Error(`saw ${seen.length}`);
  } finally {
    removeEventListener("unhandledrejection", onUnhandled);
  }
});

Deno.test("fixture: a clean test after them", () => {});
