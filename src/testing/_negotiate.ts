// The negotiate endpoint: connection ids and tokens, and the fault answers.
import type { NegotiateFault } from "./faults.ts";
import type { TestHubRequest, TestHubTransport } from "./test_hub_client.ts";

/** Every transport, in the order ASP.NET Core lists them. */
export const TRANSPORTS: readonly TestHubTransport[] = [
  "WebSockets",
  "ServerSentEvents",
  "LongPolling",
];

/** A negotiated connection that has not connected its transport yet. */
export interface Negotiated {
  readonly connectionId: string;
  readonly connectionToken: string;
  /** When negotiate answered (`performance.now()`). */
  readonly created: number;
  /** The negotiate request, and POSTs that came before the transport. */
  readonly requests: TestHubRequest[];
  /** Data POSTed before the transport connected. */
  readonly early: (string | Uint8Array)[];
  /** Whether negotiate agreed to stateful reconnect (`useStatefulReconnect` in the answer). */
  readonly statefulReconnect?: boolean;
}

/** A random id like ASP.NET Core's: 16 random bytes, base64url without padding. */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * The normal negotiate answer. Version 1 (asked with `negotiateVersion=1` or more) has a secret
 * `connectionToken`; version 0 has only the `connectionId`, which is then also the token.
 * Server-Sent Events carry text only.
 */
export function negotiateAnswer(
  version: number,
  transports: ReadonlySet<TestHubTransport>,
  request: TestHubRequest,
  statefulReconnect = false,
): { body: unknown; negotiated: Negotiated } {
  const connectionId = randomId();
  const availableTransports = TRANSPORTS.filter((name) => transports.has(name)).map((name) => ({
    transport: name,
    transferFormats: name === "ServerSentEvents" ? ["Text"] : ["Text", "Binary"],
  }));
  const created = performance.now();
  if (version >= 1) {
    const connectionToken = randomId();
    return {
      body: {
        negotiateVersion: 1,
        connectionId,
        connectionToken,
        availableTransports,
        // Written only when true, as ASP.NET Core's NegotiateProtocol does.
        ...(statefulReconnect ? { useStatefulReconnect: true } : {}),
      },
      negotiated: {
        connectionId,
        connectionToken,
        created,
        requests: [request],
        early: [],
        statefulReconnect,
      },
    };
  }
  return {
    body: {
      connectionId,
      availableTransports,
      ...(statefulReconnect ? { useStatefulReconnect: true } : {}),
    },
    negotiated: {
      connectionId,
      connectionToken: connectionId,
      created,
      requests: [request],
      early: [],
      statefulReconnect,
    },
  };
}

/** Renders a negotiate fault as the HTTP response. */
export function faultResponse(fault: NegotiateFault): Response {
  if (fault instanceof Response) return fault;
  if ("redirect" in fault) {
    return json({
      url: fault.redirect,
      ...(fault.accessToken !== undefined ? { accessToken: fault.accessToken } : {}),
    });
  }
  if ("error" in fault) return json({ error: fault.error });
  const body = fault.body;
  const headers = new Headers(fault.headers);
  if (typeof body === "string") {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain; charset=utf-8");
    return new Response(body, { status: fault.status ?? 200, headers });
  }
  if (!headers.has("content-type")) headers.set("content-type", "application/json");
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status: fault.status ?? 200,
    headers,
  });
}

/** A JSON response. */
export function json(body: unknown, status = 200, extraHeaders?: HeadersInit): Response {
  const headers = new Headers(extraHeaders);
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify(body), { status, headers });
}

/** A plain text response. */
export function text(body: string, status: number, headers?: Record<string, string>): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/**
 * Whether a negotiate request asks for stateful reconnect: ASP.NET Core reads the
 * `UseStatefulReconnect` query value (names case-insensitive) with `bool.TryParse`.
 */
export function asksForStatefulReconnect(query: URLSearchParams): boolean {
  for (const [name, value] of query) {
    if (name.toLowerCase() === "usestatefulreconnect") return value.trim().toLowerCase() === "true";
  }
  return false;
}
