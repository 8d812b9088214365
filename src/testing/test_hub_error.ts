/**
 * The error a {@linkcode TestHub} method throws to send its message to the caller unchanged.
 *
 * @module
 */

/**
 * Thrown by a hub method, its `message` becomes the error of the caller's Completion exactly as
 * is, like a `HubException` thrown on ASP.NET Core (which adds the prefix
 * `An unexpected error occurred invoking 'Method' on the server. HubException: `; TestHub does
 * not). Any other error is hidden behind ASP.NET Core's generic text. `TestHub.invokeClient` also
 * rejects with it when the client answers with an error.
 *
 * @example A hub method that refuses bad input
 * ```ts
 * import { TestHub, TestHubError } from "@signalrcore/client/testing";
 *
 * await using hub = await TestHub.serve({
 *   methods: {
 *     Divide: (a: number, b: number) => {
 *       if (b === 0) throw new TestHubError("Cannot divide by zero.");
 *       return a / b;
 *     },
 *   },
 * });
 * ```
 */
export class TestHubError extends Error {
  /**
   * Creates an error whose message is sent to the client as is.
   *
   * @param message The text the client receives.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TestHubError";
  }
}
