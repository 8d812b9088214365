/**
 * A SignalR client for ASP.NET Core SignalR hubs and Azure SignalR Service, built on web
 * standards only: native `WebSocket`, `fetch`, web streams and `AbortSignal`.
 *
 * @example Connect, listen, call, stream
 * ```ts ignore
 * import { HubConnectionBuilder } from "@signalrcore/client";
 *
 * await using connection = new HubConnectionBuilder()
 *   .withUrl("http://localhost:5000/chat")
 *   .withAutomaticReconnect()
 *   .build();
 * connection.on("ReceiveMessage", (user, text) => console.log(user, text));
 * await connection.start();
 * await connection.invoke("SendMessage", "me", "hi");
 * for await (const n of connection.stream<number>("Counter", 10, 500)) console.log(n);
 * ```
 *
 * @module
 */
export { HubConnectionBuilder } from "./src/builder.ts";
export {
  type CallOptions,
  HubConnection,
  type HubConnectionOptions,
  type HubConnectionStateChange,
  type StartOptions,
  type StatefulReconnectOptions,
  type WaitForStateOptions,
} from "./src/hub_connection.ts";
export type {
  CallArguments,
  ClientHandler,
  ClientMethod,
  ClientMethodName,
  InvokeResult,
  ServerArguments,
  ServerMethodName,
  ServerStreamName,
  StreamItemType,
  TypedCallOptions,
  UntypedHub,
  UploadArgument,
} from "./src/typed_hub.ts";
export { HubConnectionState } from "./src/hub_connection_state.ts";
export { HubStream, type StreamObserver, type Subscription } from "./src/hub_stream.ts";
export { Subject } from "./src/subject.ts";
export type { ObservableLike } from "./src/_uploads.ts";
export type { RetryContext, RetryPolicy } from "./src/retry_policy.ts";
export { type Logger, LogLevel, type LogLevelName, NullLogger } from "./src/logger.ts";
export { VERSION } from "./src/version.ts";
export type {
  IHttpConnectionOptions,
  IHubProtocol,
  ILogger,
  IRetryPolicy,
  IStreamSubscriber,
  ISubscription,
} from "./src/official_names.ts";
export {
  ConnectionClosedError,
  HandshakeError,
  HttpError,
  HubError,
  NegotiateError,
  NotConnectedError,
  ProtocolError,
  ReconnectError,
  ServerCloseError,
  ServerTimeoutError,
  TransportClosedError,
} from "./src/errors.ts";
export { JsonHubProtocol } from "./src/protocol/json.ts";
export type {
  DecoderOptions,
  HubMessageDecoder,
  HubProtocol,
  TransferFormat,
} from "./src/protocol/hub_protocol.ts";
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
export { HttpTransportType, type TransportName } from "./src/transport/transport.ts";
export type {
  HttpConnectionOptions,
  WebSocketConstructor,
} from "./src/connection/http_connection_options.ts";
