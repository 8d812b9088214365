// "official": @microsoft/signalr in Deno, on the same native WebSocket as ours.
//
// The import below takes its specifier from a variable so that `deno check` of the bench does
// not need the package; the few types used are declared here.
import type { BenchClient, BenchConnection } from "./_scenarios.ts";

/** The official client's version that is measured. */
export const OFFICIAL_SPECIFIER = "npm:@microsoft/signalr@10.0.11";

interface OfficialStreamResult<T> {
  subscribe(subscriber: {
    next(value: T): void;
    error(err: unknown): void;
    complete(): void;
  }): { dispose(): void };
}

interface OfficialSubject<T> {
  next(item: T): void;
  error(err: unknown): void;
  complete(): void;
}

interface OfficialConnection extends BenchConnection {
  start(): Promise<void>;
  invoke<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  stream<T = unknown>(method: string, ...args: unknown[]): OfficialStreamResult<T>;
}

interface OfficialBuilder {
  withUrl(url: string, options: Record<string, unknown>): OfficialBuilder;
  configureLogging(level: number): OfficialBuilder;
  build(): OfficialConnection;
}

interface OfficialModule {
  HubConnectionBuilder: new () => OfficialBuilder;
  HttpTransportType: { WebSockets: number };
  LogLevel: { Warning: number };
  Subject: new <T>() => OfficialSubject<T>;
}

const specifier: string = OFFICIAL_SPECIFIER;
const signalR = await import(specifier) as OfficialModule;

// `WebSocket` is an option of IHttpConnectionOptions in the client's source
// (src/IHttpConnectionOptions.ts) though its published .d.ts leaves it out. Without it the
// client sees Deno's `process` global, takes itself for Node and loads the `ws` package.
const options = {
  transport: signalR.HttpTransportType.WebSockets,
  WebSocket: globalThis.WebSocket,
};

/** @microsoft/signalr 10.0.11 over WebSockets + JSON. */
export const official: BenchClient<OfficialConnection> = {
  async connect(hubUrl) {
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(hubUrl, options)
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    await connection.start();
    return connection;
  },

  stream(connection, count) {
    return new Promise((resolve, reject) => {
      let n = 0;
      connection.stream<number>("Counter", count, 0).subscribe({
        next: () => {
          n++;
        },
        complete: () => resolve(n),
        error: reject,
      });
    });
  },

  async upload(connection, count) {
    const subject = new signalR.Subject<string>();
    const answer = connection.invoke<number>("UploadCount", subject);
    for (let i = 0; i < count; i++) subject.next(String(i));
    subject.complete();
    return await answer;
  },

  invoke(connection, method, ...args) {
    return connection.invoke(method, ...args);
  },
};
