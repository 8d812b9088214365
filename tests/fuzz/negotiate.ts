// The negotiate answer: byte and structural mutations of recorded answers, through
// negotiate() with a stub HTTP client (so that a body that is not JSON is covered too).
import { NegotiateError } from "../../src/errors.ts";
import { HttpClient } from "../../src/http/_http_client.ts";
import { negotiate, type NegotiateResult } from "../../src/connection/_negotiate.ts";
import { check, corpus, mutate, mutateJson, type Target, utf8 } from "./_util.ts";

const answers = corpus("negotiate.json") as string[];
const seeds = answers.map(utf8);
const values = answers.map((a) => JSON.parse(a) as unknown);

/** The client's own HTTP client over a fetch that answers `text` with a 200. */
function stub(text: string): HttpClient {
  const fetch =
    (() => Promise.resolve(new Response(text, { status: 200 }))) as typeof globalThis.fetch;
  return new HttpClient({ fetch, timeout: 5_000 });
}

function wellFormedString(v: unknown): v is string {
  return typeof v === "string" && v.isWellFormed();
}

/** What any accepted answer must satisfy, against JSON.parse of the body. */
function checkResult(result: NegotiateResult, body: Record<string, unknown>): void {
  if (result.kind === "redirect") {
    check(body.url !== undefined && typeof body.url === "string", "a redirect without a url");
    const u = new URL(result.url);
    check(u.protocol === "http:" || u.protocol === "https:", `redirect to ${result.url}`);
    check(u.hash === "", "a redirect URL kept its fragment");
    check(result.accessToken === body.accessToken, "the redirect's token differs");
    check(result.accessToken === undefined || wellFormedString(result.accessToken), "bad token");
    return;
  }
  check(
    body.url === undefined && typeof body.error !== "string",
    "connection for an error or a redirect",
  );
  check(
    wellFormedString(result.connectionId) && result.connectionId === body.connectionId,
    "connectionId",
  );
  check(wellFormedString(result.connectionToken) && result.connectionToken !== "", "token");
  check(
    result.connectionToken ===
      (result.negotiateVersion >= 1 ? body.connectionToken : body.connectionId),
    "the token is not the one the version says",
  );
  check(Number.isSafeInteger(result.negotiateVersion) && result.negotiateVersion >= 0, "version");
  check(
    result.useStatefulReconnect === (body.useStatefulReconnect === true),
    "useStatefulReconnect",
  );
  for (const t of result.availableTransports) {
    check(typeof t.transport === "string", "a transport name is not a string");
    check(t.transferFormats.every((f) => typeof f === "string"), "a format is not a string");
  }
}

export const negotiateTarget: Target = {
  name: "negotiate",
  input(rng) {
    if (rng.oneIn(2)) return utf8(JSON.stringify(mutateJson(rng, rng.pick(values))));
    return mutate(rng, rng.pick(seeds), seeds);
  },
  async run(input) {
    const text = new TextDecoder().decode(input);
    let body: unknown;
    let json = true;
    try {
      body = JSON.parse(text);
    } catch {
      json = false;
    }
    let result: NegotiateResult;
    try {
      result = await negotiate(stub(text), "http://h/hub");
    } catch (e) {
      check(e instanceof NegotiateError, `threw ${e}, not a NegotiateError`);
      return;
    }
    check(json, "accepted a body that is not JSON");
    check(
      typeof body === "object" && body !== null && !Array.isArray(body),
      "accepted a non-object",
    );
    checkResult(result, body as Record<string, unknown>);
  },
  scale(n) {
    const body = JSON.stringify({
      connectionId: "a".repeat(n),
      connectionToken: "b",
      negotiateVersion: 1,
      availableTransports: Array.from({ length: n >> 6 }, () => ({
        transport: "WebSockets",
        transferFormats: ["Text", "Binary"],
      })),
    });
    return () => negotiate(stub(body), "http://h/hub");
  },
};
