// negotiate() over HttpClient and the NegotiateError of every answer that cannot be used (with
// the runtime's error as cause where there is one); the URL helpers negotiate relies on.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { fakeFetch } from "./_fake_fetch.ts";
import { HttpError, NegotiateError } from "../../mod.ts";
import {
  negotiate,
  negotiateUrl,
  parseNegotiateResponse,
} from "../../src/connection/_negotiate.ts";
import { checkUrl, hasQuery, withQuery } from "../../src/connection/_url.ts";
import { AccessTokenProvider } from "../../src/http/_access_token.ts";
import { CookieJar } from "../../src/http/_cookie_jar.ts";
import { HttpClient } from "../../src/http/_http_client.ts";

function json(body: unknown, init?: ResponseInit): Response {
  return new Response(JSON.stringify(body), init);
}

const V1 = {
  negotiateVersion: 1,
  connectionId: "public",
  connectionToken: "secret",
  availableTransports: [{ transport: "WebSockets", transferFormats: ["Text", "Binary"] }],
};

const LONE = "ab\uD800cd";

function assertNegotiateError(
  run: () => unknown,
  pattern: RegExp,
  cause?: new (...args: never[]) => Error,
): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof NegotiateError, String(error));
    assert.match(error.message, /^Negotiate failed: /);
    assert.match(error.message, pattern);
    if (cause) assert.ok(error.cause instanceof cause, `cause: ${error.cause}`);
    else assert.equal(error.cause, undefined);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// negotiate()

test("negotiate: POSTs {url}/negotiate without a body and returns the parsed answer", async () => {
  const { fetch, calls } = fakeFetch(() => json(V1));
  const http = new HttpClient({
    fetch,
    headers: { "X-Requested-With": "XMLHttpRequest" },
    tokens: new AccessTokenProvider(() => "tok"),
  });
  const result = await negotiate(http, "http://h/hub?tenant=a%20b");
  assert.deepEqual(result, {
    kind: "connection",
    connectionId: "public",
    connectionToken: "secret",
    negotiateVersion: 1,
    availableTransports: V1.availableTransports,
    useStatefulReconnect: false,
  });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, "http://h/hub/negotiate?tenant=a%20b&negotiateVersion=1");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.body, undefined);
  assert.deepEqual(calls[0].init.headers, {
    "X-Requested-With": "XMLHttpRequest",
    Authorization: "Bearer tok",
  });
});

test("negotiate: asks for stateful reconnect when told to", async () => {
  const { fetch, calls } = fakeFetch(() => json({ ...V1, useStatefulReconnect: true }));
  const result = await negotiate(new HttpClient({ fetch }), "http://h/hub", undefined, {
    useStatefulReconnect: true,
  });
  assert.equal(result.kind === "connection" && result.useStatefulReconnect, true);
  assert.equal(
    calls[0].url,
    "http://h/hub/negotiate?negotiateVersion=1&useStatefulReconnect=true",
  );
});

test("negotiate: a failure status is an HttpError with the status and the body", async () => {
  const { fetch } = fakeFetch(() =>
    new Response("hub not found", { status: 404, statusText: "Not Found" })
  );
  await assert.rejects(negotiate(new HttpClient({ fetch }), "http://h/hub"), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 404);
    assert.equal(error.message, "Negotiate failed: Not Found: Status code '404': hub not found");
    return true;
  });
});

test("negotiate: a 401 refreshes the token once; a second 401 is an HttpError 401", async () => {
  const once = fakeFetch((_c, i) => i === 0 ? new Response("", { status: 401 }) : json(V1));
  let n = 0;
  const tokens = new AccessTokenProvider(() => `t${++n}`);
  await negotiate(new HttpClient({ fetch: once.fetch, tokens }), "http://h/hub");
  assert.equal(once.calls.length, 2);
  assert.equal((once.calls[1].init.headers as Record<string, string>).Authorization, "Bearer t2");

  const always = fakeFetch(() => new Response("", { status: 401 }));
  await assert.rejects(
    negotiate(new HttpClient({ fetch: always.fetch, tokens }), "http://h/hub"),
    (error: unknown) => error instanceof HttpError && error.status === 401,
  );
  assert.equal(always.calls.length, 2);
});

test("negotiate: a body that is not JSON → NegotiateError caused by the SyntaxError", async () => {
  const { fetch } = fakeFetch(() => new Response("<html>proxy login</html>"));
  await assert.rejects(negotiate(new HttpClient({ fetch }), "http://h/hub"), (error: unknown) => {
    assert.ok(error instanceof NegotiateError);
    assert.match(error.message, /^Negotiate failed: the response is not JSON: <html>proxy login/);
    assert.ok(error.cause instanceof SyntaxError);
    return true;
  });
});

test("negotiate: a redirect is returned with its own query and token, not followed", async () => {
  const azure =
    "https://x.service.signalr.net/client/?hub=chat&asrs.op=%2Fclient%2F&negotiateVersion=1&asrs_request_id=a~b";
  const { fetch, calls } = fakeFetch(() => json({ url: azure, accessToken: "azure-jwt" }));
  const http = new HttpClient({ fetch });
  const result = await negotiate(http, "http://app/hub");
  assert.deepEqual(result, { kind: "redirect", url: azure, accessToken: "azure-jwt" });
  assert.equal(calls.length, 1);
  // The caller's next step: the redirect's query kept, negotiateVersion not added twice.
  assert.equal(
    negotiateUrl(result.kind === "redirect" ? result.url : ""),
    "https://x.service.signalr.net/client/negotiate?hub=chat&asrs.op=%2Fclient%2F&negotiateVersion=1&asrs_request_id=a~b",
  );
});

test("negotiate: cookies set by negotiate are kept for the connection's requests", async () => {
  const { fetch } = fakeFetch(() => json(V1, { headers: { "Set-Cookie": "ARRAffinity=n1" } }));
  const http = new HttpClient({ fetch, cookies: new CookieJar() });
  await negotiate(http, "https://h/hub");
  assert.equal((await http.headers("wss://h/hub?id=secret")).Cookie, "ARRAffinity=n1");
});

test("negotiate: the signal aborts it with its reason", async () => {
  const { fetch, calls } = fakeFetch(() => json(V1));
  const reason = new Error("stop");
  await assert.rejects(
    negotiate(new HttpClient({ fetch }), "http://h/hub", AbortSignal.abort(reason)),
    (error: unknown) => error === reason,
  );
  assert.equal(calls.length, 0);
});

// ---------------------------------------------------------------------------------------------
// parseNegotiateResponse: every answer that cannot be used is a NegotiateError

test("parseNegotiateResponse: not an object, {error} and classic ASP.NET SignalR", () => {
  for (const body of [null, "text", 42, true, [V1]]) {
    assertNegotiateError(() => parseNegotiateResponse(body), /the response is not a JSON object/);
  }
  assertNegotiateError(
    () => parseNegotiateResponse({ error: "Negotiate is disabled." }),
    /^Negotiate failed: Negotiate is disabled\.$/,
  );
  assertNegotiateError(
    () => parseNegotiateResponse({ ProtocolVersion: "1.5", ConnectionToken: "x" }),
    /classic ASP\.NET SignalR/,
  );
});

test("parseNegotiateResponse: malformed fields", () => {
  const cases: [unknown, RegExp][] = [
    [{ ...V1, connectionId: undefined }, /no 'connectionId'/],
    [{ ...V1, connectionId: 7 }, /no 'connectionId'/],
    [{ ...V1, connectionToken: undefined }, /no 'connectionToken'/],
    [{ ...V1, negotiateVersion: "1" }, /'negotiateVersion' is not a number/],
    [{ ...V1, negotiateVersion: -1 }, /'negotiateVersion' -1 is not a version number/],
    [{ ...V1, negotiateVersion: 1.5 }, /'negotiateVersion' 1\.5 is not a version number/],
    [{ ...V1, useStatefulReconnect: "true" }, /'useStatefulReconnect' is not a boolean/],
    [{ ...V1, availableTransports: "WebSockets" }, /'availableTransports' is not an array/],
    [{ ...V1, availableTransports: [null] }, /an entry of 'availableTransports' is malformed/],
    [{ ...V1, availableTransports: [{ transport: "WebSockets" }] }, /is malformed/],
  ];
  for (const [body, pattern] of cases) {
    assertNegotiateError(() => parseNegotiateResponse(body), pattern);
  }
});

test("parseNegotiateResponse: transferFormats entries must be strings", () => {
  for (const formats of [[1], ["Text", null], [["Text"]]]) {
    assertNegotiateError(
      () =>
        parseNegotiateResponse({
          ...V1,
          availableTransports: [{ transport: "WebSockets", transferFormats: formats }],
        }),
      /the 'transferFormats' of "WebSockets" are not all strings/,
    );
  }
});

test("parseNegotiateResponse: ids and tokens with a lone surrogate are refused", () => {
  // Without the check they fail later as a URIError from encodeURIComponent.
  assert.throws(() => encodeURIComponent(LONE), URIError);
  assertNegotiateError(
    () => parseNegotiateResponse({ ...V1, connectionId: LONE }),
    /'connectionId' is not a well-formed string/,
  );
  assertNegotiateError(
    () => parseNegotiateResponse({ ...V1, connectionToken: LONE }),
    /'connectionToken' is not a well-formed string/,
  );
  assertNegotiateError(
    () => parseNegotiateResponse({ connectionId: LONE }),
    /'connectionId' is not a well-formed string/,
  );
  assertNegotiateError(
    () => parseNegotiateResponse({ url: "https://azure/", accessToken: LONE }),
    /'accessToken' is not a well-formed string/,
  );
  // A v0 answer ignores the token, so a bad one there does not matter.
  const v0 = parseNegotiateResponse({
    negotiateVersion: 0,
    connectionId: "c",
    connectionToken: LONE,
  });
  assert.equal(v0.kind === "connection" && v0.connectionToken, "c");
});

test("parseNegotiateResponse: a redirect URL must be an absolute http(s) URL", () => {
  assertNegotiateError(() => parseNegotiateResponse({ url: 5 }), /'url' is not a string/);
  for (const url of ["", "/relative/hub", "http://", "https://exa mple/"]) {
    assertNegotiateError(
      () => parseNegotiateResponse({ url }),
      /is not a valid absolute URL/,
      TypeError,
    );
  }
  for (const url of ["ftp://h/hub", "wss://h/hub", "javascript:alert(1)"]) {
    assertNegotiateError(() => parseNegotiateResponse({ url }), /is not http or https/);
  }
  assertNegotiateError(
    () => parseNegotiateResponse({ url: "ftp://h/hub?access_token=secret" }),
    /'ftp:\/\/h\/hub\?access_token=\*\*\*'/,
  );
  assertNegotiateError(
    () => parseNegotiateResponse({ url: "https://azure/", accessToken: 5 }),
    /the redirect's 'accessToken' is not a string/,
  );
});

test("parseNegotiateResponse: a redirect URL loses its fragment and keeps its query", () => {
  const result = parseNegotiateResponse({
    url: "https://azure.example/client/?hub=chat&asrs.op=%2Fclient%2F&x=a~b#section",
  });
  assert.deepEqual(result, {
    kind: "redirect",
    url: "https://azure.example/client/?hub=chat&asrs.op=%2Fclient%2F&x=a~b",
    accessToken: undefined,
  });
  // The URL a transport gets from it is one the WebSocket constructor accepts.
  const ws = withQuery(result.kind === "redirect" ? result.url : "", "id", "t").replace(
    /^http/,
    "ws",
  );
  assert.equal(ws, "wss://azure.example/client/?hub=chat&asrs.op=%2Fclient%2F&x=a~b&id=t");
});

// ---------------------------------------------------------------------------------------------
// URL helpers

test("negotiateUrl: /negotiate, the query as written, negotiateVersion once", () => {
  assert.equal(negotiateUrl("http://h/hub/"), "http://h/hub/negotiate?negotiateVersion=1");
  assert.equal(
    negotiateUrl("http://h/hub?path=/a/b&sig=x~y&flag&sp=a%20b"),
    "http://h/hub/negotiate?path=/a/b&sig=x~y&flag&sp=a%20b&negotiateVersion=1",
  );
  assert.equal(
    negotiateUrl("http://h/hub?negotiateVersion=1&a=b"),
    "http://h/hub/negotiate?negotiateVersion=1&a=b",
  );
  // The URL's own value stays as it is (Azure decides for its redirect URLs).
  assert.equal(
    negotiateUrl("http://h/hub?negotiateVersion=0"),
    "http://h/hub/negotiate?negotiateVersion=0",
  );
  assert.equal(
    negotiateUrl("http://h/hub?useStatefulReconnect=true", { useStatefulReconnect: true }),
    "http://h/hub/negotiate?useStatefulReconnect=true&negotiateVersion=1",
  );
});

test("withQuery: replaces a pair in place, keeps the rest byte for byte", () => {
  assert.equal(withQuery("http://h/p", "id", "a/b c"), "http://h/p?id=a%2Fb%20c");
  assert.equal(
    withQuery("http://h/p?x=%7E~&id=old&y=1+2&id=dup", "id", "new"),
    "http://h/p?x=%7E~&id=new&y=1+2",
  );
  assert.equal(withQuery("http://h/p?flag&x", "id", "1"), "http://h/p?flag&x&id=1");
  assert.equal(hasQuery("http://h/p?a=1&negotiate%56ersion=1", "negotiateVersion"), true);
  assert.equal(hasQuery("http://h/p?a=1", "negotiateVersion"), false);
  assert.equal(hasQuery("http://h/p", "a"), false);
});

test("withQuery: a lone surrogate is a clear TypeError, not a URIError", () => {
  assert.throws(
    () => withQuery("http://h/p", "id", LONE),
    (error: unknown) =>
      error instanceof TypeError &&
      /value of 'id' is not a well-formed string/.test(error.message),
  );
});

test("checkUrl: drops the fragment, refuses other schemes, redacts tokens in its message", () => {
  assert.equal(checkUrl("http://h/hub?x=1#top"), "http://h/hub?x=1");
  assert.throws(() => checkUrl("ws://h/hub"), /scheme must be http or https/);
  assert.throws(
    () => checkUrl("/hub?access_token=secret"),
    (error: unknown) =>
      error instanceof TypeError && error.message.includes("access_token=***") &&
      !error.message.includes("secret"),
  );
});
