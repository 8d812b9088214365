// A chat: broadcast to everyone, and groups. Two connections, alice and bob, talk through the
// hub of the ASP.NET Core chat sample (plus its group methods).
//
//   deno run --allow-net examples/chat.ts                       # on an embedded TestHub
//   deno run --allow-net examples/chat.ts --url http://localhost:5000/hub
//
// The hub's methods, as in tests/interop/server/TestHub.cs:
//   SendMessage(user, message)  → Clients.All.SendAsync("ReceiveMessage", user, message)
//   JoinGroup(group) / LeaveGroup(group)
//   SendToGroup(group, message) → Clients.Group(group).SendAsync("GroupMessage", group, message)
import { type HubConnection, HubConnectionBuilder } from "@signalrcore/client";
import type { HubCallContext } from "@signalrcore/client/testing";
import { exampleHub } from "./_hub.ts";

// Without --url, the same hub runs in this process. Each method gets the caller's context as
// an extra last argument: its connection id, its groups, and the hub itself.
await using hub = await exampleHub({
  SendMessage: (user: string, message: string, context: HubCallContext) =>
    context.hub.send("ReceiveMessage", user, message),
  JoinGroup: (group: string, context: HubCallContext) => context.join(group),
  LeaveGroup: (group: string, context: HubCallContext) => context.leave(group),
  SendToGroup: (group: string, message: string, context: HubCallContext) =>
    context.hub.group(group).send("GroupMessage", group, message),
});

/** Connects one chat user; it prints what it receives. */
async function join(name: string): Promise<HubConnection> {
  const connection = new HubConnectionBuilder().withUrl(hub.url).build();
  // Handlers can be registered before start(), so no message is missed. Untyped handlers get
  // `unknown` parameters unless annotated (see typed.ts for checked ones).
  connection.on("ReceiveMessage", (user: string, text: string) => {
    console.log(`${name} got ${user}: ${text}`);
  });
  connection.on("GroupMessage", (group: string, text: string) => {
    console.log(`${name} got [${group}] ${text}`);
  });
  await connection.start();
  return connection;
}

/** Resolves with the arguments of the next call of `method` on `connection`. */
function next(connection: HubConnection, method: string): Promise<unknown[]> {
  return new Promise((resolve) => {
    // on() returns a function that removes the handler again.
    const off = connection.on(method, (...args) => {
      off();
      resolve(args);
    });
  });
}

await using alice = await join("alice");
await using bob = await join("bob");

// Broadcast. `send` is fire-and-forget: it resolves once the message is written, so the example
// waits for both copies of ReceiveMessage to arrive before going on.
const delivered = Promise.all([next(alice, "ReceiveMessage"), next(bob, "ReceiveMessage")]);
await alice.send("SendMessage", "alice", "hello everyone");
await delivered;

// Groups. `invoke` resolves when the hub method has returned, so bob is in the group when
// JoinGroup's promise resolves, and the group message cannot overtake it.
await bob.invoke("JoinGroup", "devs");
console.log("bob joined devs");
const groupMessage = next(bob, "GroupMessage");
await alice.invoke("SendToGroup", "devs", "the build is green"); // alice is not in devs
await groupMessage;

await bob.invoke("LeaveGroup", "devs");
console.log("bob left devs");

// `await using` stops bob, then alice, then closes the embedded hub.
