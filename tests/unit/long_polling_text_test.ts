// Long Polling's text bodies: one UTF-8 decoder per connection (found by the fuzzer).
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { longPollingTransport } from "../../src/transport/_long_polling.ts";
import { HttpClient } from "../../src/http/_http_client.ts";

async function frames(bodies: Uint8Array[]): Promise<string> {
  let next = 0;
  const fetch = ((_url: RequestInfo | URL, init?: RequestInit) => {
    if ((init?.method ?? "GET") !== "GET") return Promise.resolve(new Response(null));
    const body = bodies[next++];
    return Promise.resolve(
      body ? new Response(body as Uint8Array<ArrayBuffer>) : new Response(null, { status: 204 }),
    );
  }) as typeof globalThis.fetch;
  const got: string[] = [];
  const closed = Promise.withResolvers<void>();
  const transport = await longPollingTransport({ pollTimeout: 5_000 }).connect({
    url: "http://h/hub?id=t",
    transferFormat: "Text",
    headers: {},
    accessToken: undefined,
    receiver: { onFrame: (f) => got.push(f as string), onClose: () => closed.resolve() },
    http: new HttpClient({ fetch, timeout: 5_000 }),
    signal: undefined,
    logger: { log() {} },
  });
  await closed.promise;
  await transport.close(1_000);
  return got.join("");
}

test("Long Polling: a U+FEFF that starts a body is data, not a byte-order mark", async () => {
  const bom = new TextEncoder().encode("\ufeffa\x1e");
  assert.equal(await frames([new TextEncoder().encode("x"), bom]), "x\ufeffa\x1e");
  assert.equal(await frames([bom]), "\ufeffa\x1e");
});

test("Long Polling: a character cut between two polls is completed by the next", async () => {
  const e = new TextEncoder().encode("é");
  assert.equal(await frames([Uint8Array.of(0x61, e[0]), Uint8Array.of(e[1], 0x62)]), "aéb");
});
