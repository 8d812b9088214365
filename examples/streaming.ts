// Streaming both ways: the "Streaming" page of the Python signalrcore docs, in this library.
//
//   deno run --allow-net examples/streaming.ts                  # on an embedded TestHub
//   deno run --allow-net examples/streaming.ts --url http://localhost:5000/hub
//   node examples/streaming.ts                                   # Node 24+ (npm install first)
//   bun examples/streaming.ts
//
// The hub needs the two methods of the ASP.NET Core streaming sample: `Counter(count, delay)`,
// a server-to-client stream, and `UploadStream(IAsyncEnumerable<string>)`, which reads a
// client-to-server stream. `--delay <ms>` shortens the 500 ms pauses (the tests use it).
import { HubConnectionBuilder, Subject } from "@signalrcore/client";
import { exampleHub, numberOption, sleep } from "./_hub.ts";

const count = 10;
const delay = numberOption("delay", 500);

// Without --url, these run in this process: the ASP.NET Core sample's hub in TypeScript.
await using hub = await exampleHub({
  // A server stream is an async generator; each `yield` is one stream item. When the client
  // cancels, the hub calls the generator's return(): it stops at its next yield.
  Counter: async function* (count: number, delay: number) {
    for (let i = 0; i < count; i++) {
      yield i;
      await sleep(delay);
    }
  },
  // An upload parameter is an AsyncIterable that ends when the client completes the stream.
  UploadStream: async (stream: AsyncIterable<string>) => {
    for await (const item of stream) console.log(`  hub received: ${item}`);
  },
});

await using connection = new HubConnectionBuilder().withUrl(hub.url).build();
await connection.start();

// 1. Server to client with the observer API (what the Python and the official clients use).
// subscribe() returns at once; the promise lets the example wait for the end of the stream.
console.log(`stream("Counter", ${count}, ${delay}).subscribe(...)`);
await new Promise<void>((resolve, reject) => {
  connection.stream<number>("Counter", count, delay).subscribe({
    next: (n) => console.log(`next: ${n}`),
    complete: () => {
      console.log("complete");
      resolve();
    },
    error: (error) => reject(error), // a HubError with the server's text, or a connection error
  });
});

// 2. Client to server with a Subject. `send` returns once the invocation is written; the items
// follow as the subject produces them. next() resolves when the connection has taken the item,
// so awaiting it gives backpressure.
console.log('send("UploadStream", subject)');
const subject = new Subject<string>();
await connection.send("UploadStream", subject);
for (let i = 0; i < count; i++) {
  await subject.next(String(i));
  await sleep(delay);
}
await subject.complete(); // the hub's `for await` ends here
console.log("upload complete");

// 3. The same download, read as a ReadableStream with for await. Breaking out of the loop
// early would cancel the stream on the server.
const items: number[] = [];
for await (const n of connection.stream<number>("Counter", count, delay)) items.push(n);
console.log(`for await: ${items.join(" ")}`);

// 4. The same upload, piped from any ReadableStream into the subject's writable side. This
// time with `invoke`: it resolves when the hub method has returned, i.e. read everything.
const piped = new Subject<string>();
const uploaded = connection.invoke("UploadStream", piped);
await ReadableStream.from(["a", "b", "c"]).pipeTo(piped.writable); // completes the subject
await uploaded;
console.log("pipeTo: the hub has read a, b, c");

// `await using` stops the connection, then closes the embedded hub.
