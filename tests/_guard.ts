// The guard every test file imports (one line: `import "./_guard.ts";`): an unhandled rejection
// or an uncaught exception while a test runs fails that test, with the test's name and the
// error. Deno alone fails the run on them too, but as "Uncaught error from ./file ... This
// error was not caught from a test", which names no test.
//
// How: importing this module wraps `Deno.test` (and `.only`, `.ignore`) before the file
// registers its tests (a module's imports run before its body), so that the guard knows which
// test is running; its "unhandledrejection" and "error" listeners keep the runtime from failing
// the whole file and hand the error to that test, which throws it once its function is done
// (after one turn of the event loop, so that a rejection left behind at its very end is still
// reported there). A test that handles such events itself (its own listener calls
// `preventDefault()`) keeps them: the guard only takes what no other listener took. Between
// tests, the runtime's own failure stands, and the guard prints which test ran last.

type TestFn = (t: Deno.TestContext) => void | Promise<void>;

interface Running {
  readonly name: string;
  readonly errors: { kind: string; error: unknown }[];
}

const GUARDED = Symbol.for("signalrcore.tests.guard");
let running: Running | undefined;
let last: string | undefined;

function onEvent(kind: string, event: Event, error: unknown): void {
  // Whether a later listener (a test's own) takes the event is known only once the dispatch,
  // which is synchronous, is over: note its preventDefault, and decide in a microtask.
  let handled = false;
  const preventDefault = event.preventDefault.bind(event);
  event.preventDefault = () => {
    handled = true;
    preventDefault();
  };
  const test = running;
  // During a test the runtime must not fail the file: the test will fail instead.
  if (test !== undefined) preventDefault();
  queueMicrotask(() => {
    if (handled) return;
    if (test !== undefined) test.errors.push({ kind, error });
    else {
      console.error(
        `${kind} outside any test${last === undefined ? "" : `, after the test "${last}"`}:`,
        error,
      );
    }
  });
}

function install(): void {
  const g = globalThis as { [GUARDED]?: boolean };
  if (g[GUARDED]) return;
  g[GUARDED] = true;
  addEventListener(
    "unhandledrejection",
    (event) => onEvent("Unhandled rejection", event, event.reason),
  );
  addEventListener("error", (event) => onEvent("Uncaught exception", event, event.error));

  const original = Deno.test;
  const wrap = (register: (...args: unknown[]) => void) => (...args: unknown[]) =>
    register(...guardArgs(args));
  const test = wrap(original as (...args: unknown[]) => void) as typeof Deno.test;
  test.only = wrap(original.only as (...args: unknown[]) => void) as typeof Deno.test.only;
  test.ignore = wrap(original.ignore as (...args: unknown[]) => void) as typeof Deno.test.ignore;
  // Typed read-only, writable at run time.
  (Deno as { test: typeof Deno.test }).test = test;
}

/** The arguments of any `Deno.test` overload, with the test function guarded. */
function guardArgs(args: unknown[]): unknown[] {
  const [a, b, c] = args;
  if (typeof a === "function") return [guarded(a.name, a as TestFn)];
  if (typeof a === "string") {
    if (typeof b === "function") return [a, guarded(a, b as TestFn)];
    return [a, b, guarded(a, c as TestFn)];
  }
  const options = a as Deno.TestDefinition;
  if (typeof b === "function") return [options, guarded(options.name ?? b.name, b as TestFn)];
  return [{ ...options, fn: guarded(options.name, options.fn) }];
}

function guarded(name: string, fn: TestFn): TestFn {
  if (typeof fn !== "function") return fn;
  const run = async (t: Deno.TestContext) => {
    const test: Running = { name, errors: [] };
    running = test;
    last = name;
    let failure: { error: unknown } | undefined;
    try {
      await fn(t);
    } catch (error) {
      failure = { error };
    }
    // One turn of the event loop: a promise rejected without a handler at the test's very end
    // is reported at the end of a turn.
    await new Promise((resolve) => setTimeout(resolve, 0));
    running = undefined;
    if (test.errors.length === 0) {
      if (failure) throw failure.error;
      return;
    }
    const what = test.errors.map(({ kind, error }) => `${kind}: ${describe(error)}`);
    const errors = test.errors.map(({ error }) => error);
    if (failure) errors.unshift(failure.error);
    throw new AggregateError(
      errors,
      `The test "${name}" left ${what.length === 1 ? "an error" : `${what.length} errors`} ` +
        `that nothing caught: ${what.join(" | ")}`,
    );
  };
  // Deno names a test registered by function alone after the function.
  Object.defineProperty(run, "name", { value: fn.name });
  return run;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

install();
