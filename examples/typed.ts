// Typed hubs: describe the C# hub and the client's methods as two interfaces, and every call,
// stream, upload and handler is checked by the compiler. Nothing of this exists at run time.
//
//   deno run --allow-net examples/typed.ts                      # on an embedded TestHub
//   deno run --allow-net examples/typed.ts --url http://localhost:5000/hub
import { HubConnectionBuilder, Subject } from "@signalrcore/client";
import type { HubCallContext } from "@signalrcore/client/testing";
import { exampleHub } from "./_hub.ts";

/** What the hub offers: a subset of tests/interop/server/TestHub.cs, in TypeScript types. */
interface Hub {
  Add(a: number, b: number): number; // int Add(int a, int b)
  SendMessage(user: string, message: string): void; // Task SendMessage(...)
  Counter(count: number, delay: number): AsyncIterable<number>; // IAsyncEnumerable<int>
  UploadCollect(stream: AsyncIterable<string>): string[]; // Task<string[]>(IAsyncEnumerable<string>)
  WaitForMessage(connectionId: string | null): string; // asks the client's GetMessage
}

/** What the hub calls on this client. A method with a result type is a client result. */
interface Client {
  ReceiveMessage(user: string, message: string): void;
  GetMessage(): string;
}

// Without --url, the hub runs in this process.
await using hub = await exampleHub({
  Add: (a: number, b: number) => a + b,
  SendMessage: (user: string, message: string, context: HubCallContext) =>
    context.hub.send("ReceiveMessage", user, message),
  Counter: async function* (count: number) {
    for (let i = 0; i < count; i++) yield i;
  },
  UploadCollect: async (stream: AsyncIterable<string>) => {
    const items: string[] = [];
    for await (const item of stream) items.push(item);
    return items;
  },
  WaitForMessage: (connectionId: string, context: HubCallContext) =>
    context.hub.invokeClient(connectionId, "GetMessage"),
});

await using connection = new HubConnectionBuilder()
  .withUrl(hub.url)
  .build<Hub, Client>();

// Handler parameters come from Client: `user` and `message` are strings, no annotations.
const received = Promise.withResolvers<void>();
connection.on("ReceiveMessage", (user, message) => {
  console.log(`ReceiveMessage: ${user.toUpperCase()} says ${message}`);
  received.resolve();
});
// A client result: the handler must return a string (or a promise of one).
connection.on("GetMessage", () => "typed hello");
await connection.start();

const sum = await connection.invoke("Add", 1, 2); // sum: number
console.log(`Add(1, 2) = ${sum.toFixed(0)}`);

const counted: number[] = [];
for await (const n of connection.stream("Counter", 3, 0)) counted.push(n); // n: number
console.log(`Counter: ${counted.join(" ")}`);

// An AsyncIterable<string> parameter takes a Subject<string>, a ReadableStream<string> or any
// AsyncIterable<string>.
const items = await connection.invoke("UploadCollect", ReadableStream.from(["x", "y"]));
console.log(`UploadCollect: ${items.join(",")}`); // items: string[]

console.log(
  `WaitForMessage: ${await connection.invoke("WaitForMessage", connection.connectionId)}`,
);

await connection.send("SendMessage", "ada", "typed hubs");
await received.promise;

// None of these compile. `@ts-expect-error` makes `deno check` prove it: it fails if a line
// below stops being an error. The function is never called.
function _mistakes() {
  // @ts-expect-error: "2" is not a number
  connection.invoke("Add", 1, "2");
  // @ts-expect-error: the hub has no method "Subtract"
  connection.invoke("Subtract", 3, 1);
  // @ts-expect-error: Add is not a stream
  connection.stream("Add", 1, 2);
  // @ts-expect-error: UploadCollect takes strings, not numbers
  connection.invoke("UploadCollect", new Subject<number>());
  // @ts-expect-error: GetMessage must return a string
  connection.on("GetMessage", () => 42);
}
