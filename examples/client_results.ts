// Client results: the hub calls a client method and waits for its return value. This is the
// sample of the ASP.NET Core docs ("Client results"); its hub method, as in
// tests/interop/server/TestHub.cs:
//
//   public async Task<string> WaitForMessage(string connectionId)
//   {
//       using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
//       var message = await Clients.Client(connectionId).InvokeAsync<string>(
//           "GetMessage", cts.Token);
//       return message;
//   }
//
// (The token cannot be a parameter: ASP.NET Core 10 injects CancellationTokens only into
// streaming hub methods, and would expect the client to send it.)
//
//   deno run --allow-net examples/client_results.ts             # on an embedded TestHub
//   deno run --allow-net examples/client_results.ts --url http://localhost:5000/hub
import { HubConnectionBuilder, HubError } from "@signalrcore/client";
import type { HubCallContext } from "@signalrcore/client/testing";
import { exampleHub, sleep } from "./_hub.ts";

// Without --url, the same hub method in TypeScript: `invokeClient` is the TestHub's
// `Clients.Client(id).InvokeAsync`. Its promise rejects when the client's handler throws.
await using hub = await exampleHub({
  WaitForMessage: (connectionId: string, context: HubCallContext) =>
    context.hub.invokeClient<string>(connectionId, "GetMessage"),
});

await using connection = new HubConnectionBuilder().withUrl(hub.url).build();

// The handler's return value is the answer. Register it before start(): the server may call
// as soon as the connection is open.
const off = connection.on("GetMessage", () => "hello from a plain handler");
await connection.start();

// The hub needs to know which connection to ask: here, this one. (connectionId is null when
// negotiation was skipped.)
console.log("answer:", await connection.invoke("WaitForMessage", connection.connectionId));
off();

// An async handler: the server waits for the promise, e.g. while the user types an answer.
connection.on("GetMessage", async () => {
  await sleep(100);
  return "hello from an async handler";
});
console.log("answer:", await connection.invoke("WaitForMessage", connection.connectionId));
connection.off("GetMessage");

// A handler that throws: the server's InvokeAsync fails with the handler's message, and here
// that failure becomes WaitForMessage's error.
connection.on("GetMessage", () => {
  throw new Error("no message today");
});
try {
  await connection.invoke("WaitForMessage", connection.connectionId);
  throw new Error("WaitForMessage should have failed");
} catch (error) {
  if (!(error instanceof HubError)) throw error;
  console.log("the hub said:", error.message);
}
