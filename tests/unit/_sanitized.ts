// Deno 2.9 turned the ops and resources sanitizers off by default (they are opt-in with
// --sanitize-ops / --sanitize-resources or per test). These tests must prove that nothing is
// left behind (timers, reads, sockets), so every test here opts in explicitly.

type Fn = (t: Deno.TestContext) => void | Promise<void>;

const SANITIZERS = { sanitizeOps: true, sanitizeResources: true, sanitizeExit: true } as const;

/** `Deno.test` with the ops, resources and exit sanitizers on. */
export function test(name: string, fn: Fn): void;
/** `Deno.test` with the ops, resources and exit sanitizers on. */
export function test(definition: Deno.TestDefinition): void;
export function test(nameOrDefinition: string | Deno.TestDefinition, fn?: Fn): void {
  if (typeof nameOrDefinition === "string") {
    Deno.test({ name: nameOrDefinition, fn: fn!, ...SANITIZERS });
  } else {
    Deno.test({ ...nameOrDefinition, ...SANITIZERS });
  }
}
