/**
 * `TestHub`: a real SignalR hub server inside your test process, for your own tests and for
 * demos: on `Deno.serve` on Deno, `Bun.serve` on Bun, and `node:http` with the `ws` package on
 * Node (Node has no WebSocket server; `ws` is imported only here, and only on Node). It speaks negotiate, WebSockets, Server-Sent Events, Long Polling, the
 * JSON hub protocol and, when given one (`protocols: [new MessagePackHubProtocol()]`), the
 * MessagePack hub protocol as `@microsoft/signalr` expects, uses ASP.NET Core's error texts, and has
 * knobs to inject faults: dropped and frozen connections, raw frames, refused transports,
 * failed sends, negotiate redirects and errors, handshake delays and failures, missing pings,
 * required tokens.
 *
 * @example Test a client against an in-process hub
 * ```ts
 * import { HubConnectionBuilder } from "@signalrcore/client";
 * import { TestHub } from "@signalrcore/client/testing";
 *
 * await using hub = await TestHub.serve({ methods: { Add: (a: number, b: number) => a + b } });
 * await using connection = new HubConnectionBuilder().withUrl(hub.url).build();
 * await connection.start();
 * console.log(await connection.invoke("Add", 1, 2)); // 3
 *
 * const client = await hub.nextConnection();
 * connection.on("Notify", (text) => console.log(text));
 * await client.send("Notify", "hello from the server");
 * ```
 *
 * @module
 */
export {
  type InvokeClientOptions,
  type NextConnectionOptions,
  TestHub,
  type TestHubOptions,
} from "./src/testing/test_hub.ts";
export { TestHubError } from "./src/testing/test_hub_error.ts";
export type {
  HubCallContext,
  HubMethod,
  HubMethodDefinition,
  HubMethodOptions,
} from "./src/testing/hub_method.ts";
export type {
  CloseOptions,
  RefuseReattachOptions,
  TestHubClient,
  TestHubDisconnect,
  TestHubGroup,
  TestHubRequest,
  TestHubTransport,
} from "./src/testing/test_hub_client.ts";
export type {
  HandshakeFault,
  NegotiateFault,
  TestHubFaults,
  TransportRefusal,
} from "./src/testing/faults.ts";
// The messages that TestHubClient's `received`, `sendMessage` and `waitForMessage` use.
export {
  type AckMessage,
  type CancelInvocationMessage,
  type CloseMessage,
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  type MessageHeaders,
  MessageType,
  type PingMessage,
  type SequenceMessage,
  type StreamInvocationMessage,
  type StreamItemMessage,
} from "./src/protocol/messages.ts";
