// The negotiate endpoint: connection ids and tokens, and the fault answers.
import type { NegotiateFault } from "./faults.ts";

/** A negotiated connection that has not connected its transport yet. */
export interface Negotiated {
  readonly connectionId: string;
  readonly connectionToken: string;
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
 */
export function negotiateAnswer(version: number): { body: unknown; negotiated: Negotiated } {
  const connectionId = randomId();
  const availableTransports = [{ transport: "WebSockets", transferFormats: ["Text", "Binary"] }];
  if (version >= 1) {
    const connectionToken = randomId();
    return {
      body: { negotiateVersion: 1, connectionId, connectionToken, availableTransports },
      negotiated: { connectionId, connectionToken },
    };
  }
  return {
    body: { connectionId, availableTransports },
    negotiated: { connectionId, connectionToken: connectionId },
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
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** A plain text response. */
export function text(body: string, status: number, headers?: Record<string, string>): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}
