// "ours": @signalrcore/client, used as its README shows.
import {
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  LogLevel,
  Subject,
} from "@signalrcore/client";
import { type BenchClient, type ProtocolName, SIZES } from "./_scenarios.ts";
import { expectStateful } from "./_frames.ts";

/**
 * `@signalrcore/client/msgpack`'s protocol, loaded only by the children that speak MessagePack
 * (JSON users never load it either).
 */
async function messagePack() {
  const { MessagePackHubProtocol } = await import("../msgpack.ts");
  return new MessagePackHubProtocol();
}

/**
 * @signalrcore/client with JSON or MessagePack (`withHubProtocol(new MessagePackHubProtocol())`):
 * over WebSockets (given the global WebSocket, the counting one of bench/_frames.ts), or over
 * Server-Sent Events or Long Polling, chosen with `transport` alone. Stateful reconnect:
 * `withStatefulReconnect({ bufferSize })` (`SIZES.statefulBuffer`).
 */
export const ours: BenchClient<HubConnection> = {
  async connect(hubUrl, transport, protocol: ProtocolName, options) {
    const builder = new HubConnectionBuilder()
      .withUrl(
        hubUrl,
        transport === "WebSockets"
          ? { transport: HttpTransportType.WebSockets, WebSocket: globalThis.WebSocket }
          : { transport: HttpTransportType[transport] },
      )
      .configureLogging(LogLevel.Warning);
    if (protocol === "messagepack") builder.withHubProtocol(await messagePack());
    if (options?.stateful) builder.withStatefulReconnect({ bufferSize: SIZES.statefulBuffer });
    const connection = builder.build();
    await connection.start();
    if (options?.stateful) expectStateful();
    if (connection.transport !== transport) {
      await connection.stop();
      throw new Error(`connected over ${connection.transport}, not ${transport}`);
    }
    return connection;
  },

  async stream(connection, count) {
    let n = 0;
    for await (const _ of connection.stream<number>("Counter", count, 0)) n++;
    return n;
  },

  streamSubscribe(connection, count) {
    return new Promise((resolve, reject) => {
      let n = 0;
      connection.stream<number>("Counter", count, 0).subscribe({
        next: () => n++,
        complete: () => resolve(n),
        error: reject,
      });
    });
  },

  async upload(connection, count) {
    const subject = new Subject<string>();
    const answer = connection.invoke<number>("UploadCount", subject);
    for (let i = 0; i < count; i++) await subject.next(String(i));
    await subject.complete();
    return await answer;
  },

  invoke(connection, method, ...args) {
    return connection.invoke(method, ...args);
  },
};
