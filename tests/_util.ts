// Shared helpers for tests: a logger that records, and waiting for a callback without sleeping.
import type { Logger, LogLevel } from "../mod.ts";
import type { HubMessage } from "../testing.ts";

const RS = "\x1e";

/** A logger that keeps every entry (and prints errors when TEST_LOG is set). */
export class RecordingLogger implements Logger {
  readonly entries: { level: LogLevel; message: string }[] = [];
  log(level: LogLevel, message: string): void {
    this.entries.push({ level, message });
    if (Deno.env.get("TEST_LOG")) console.error(`[${level}] ${message}`);
  }
  /** Messages at or above `level`. */
  at(level: LogLevel): string[] {
    return this.entries.filter((e) => e.level >= level).map((e) => e.message);
  }
}

/** A promise plus the function that settles it: for callbacks a test waits on. */
export function signal<T = void>(): { promise: Promise<T>; fire: (value: T) => void } {
  const { promise, resolve } = Promise.withResolvers<T>();
  return { promise, fire: resolve };
}

/** Rejects with a clear error when `promise` has not settled within `ms`: a guard, not a wait. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A bare hub on Deno.serve: negotiate, then `onHandshake(socket)` right after the handshake
 * request; `onRecord` gets every later record.
 */
export function bareHub(
  onHandshake: (socket: WebSocket) => void,
  onRecord: (record: HubMessage, socket: WebSocket) => void = () => {},
) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (request.method === "POST") {
      return Response.json({
        negotiateVersion: 1,
        connectionId: "c",
        connectionToken: "t",
        availableTransports: [{ transport: "WebSockets", transferFormats: ["Text"] }],
      });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => {
      for (const text of String(event.data).split(RS).filter(Boolean)) {
        const record = JSON.parse(text);
        if ("protocol" in record) onHandshake(socket);
        else onRecord(record, socket);
      }
    };
    return response;
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hub`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
