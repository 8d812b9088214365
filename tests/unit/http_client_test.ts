// HttpClient with an injected fetch: headers, the token per request and its one refresh after
// a 401, cookies, timeouts, aborts, error messages and redaction.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { type Call, fakeFetch, hangingFetch } from "./_fake_fetch.ts";
import { HttpError, type Logger, type LogLevel } from "../../mod.ts";
import { AccessTokenProvider } from "../../src/http/_access_token.ts";
import { CookieJar } from "../../src/http/_cookie_jar.ts";
import { HttpClient, type HttpClientOptions, httpError } from "../../src/http/_http_client.ts";
import { redact } from "../../src/http/_redact.ts";

function headersOf(call: Call): Record<string, string> {
  return call.init.headers as Record<string, string>;
}

function client(fetch: typeof globalThis.fetch, options: Partial<HttpClientOptions> = {}) {
  return new HttpClient({
    fetch,
    headers: { "X-Requested-With": "XMLHttpRequest", "X-Tenant": "a" },
    timeout: 100_000, // a leaked timer would trip the sanitizer
    ...options,
  });
}

class CollectingLogger implements Logger {
  readonly messages: string[] = [];
  log(_level: LogLevel, message: string): void {
    this.messages.push(message);
  }
}

test("HttpClient: sends the method, body, headers, token and credentials", async () => {
  const { fetch, calls } = fakeFetch(() => new Response("ok"));
  let factoryCalls = 0;
  const http = client(fetch, {
    tokens: new AccessTokenProvider(() => `tok${++factoryCalls}`),
  });
  const response = await http.request({
    method: "POST",
    url: "http://h/hub?id=1",
    body: "payload",
    contentType: "text/plain;charset=UTF-8",
    accept: "text/plain",
    what: "Send",
  });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "ok");
  await http.request({ method: "DELETE", url: "http://h/hub?id=1", what: "Stop" });
  assert.equal(calls.length, 2);
  assert.equal(calls[0].url, "http://h/hub?id=1");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.body, "payload");
  assert.equal(calls[0].init.credentials, "include");
  assert.deepEqual(headersOf(calls[0]), {
    "X-Requested-With": "XMLHttpRequest",
    "X-Tenant": "a",
    Authorization: "Bearer tok1",
    "Content-Type": "text/plain;charset=UTF-8",
    Accept: "text/plain",
  });
  assert.equal(calls[1].init.method, "DELETE");
  assert.equal(calls[1].init.body, undefined);
  assert.equal(
    headersOf(calls[1]).Authorization,
    "Bearer tok2",
    "the factory is asked per request",
  );
  assert.equal(factoryCalls, 2);
});

test("HttpClient: credentials can be changed; without a token there is no Authorization", async () => {
  const { fetch, calls } = fakeFetch(() => new Response(""));
  await client(fetch, { credentials: "same-origin" }).request({
    method: "GET",
    url: "http://h/",
    what: "Poll",
  });
  assert.equal(calls[0].init.credentials, "same-origin");
  assert.equal(headersOf(calls[0]).Authorization, undefined);
});

test("HttpClient: the token replaces a user Authorization header whatever its case", async () => {
  const { fetch, calls } = fakeFetch(() => new Response(""));
  await client(fetch, {
    headers: { authorization: "Basic x" },
    tokens: new AccessTokenProvider(() => "t"),
  }).request({ method: "GET", url: "http://h/", what: "Poll" });
  assert.deepEqual(headersOf(calls[0]), { Authorization: "Bearer t" });
});

test("HttpClient: a 401 refreshes the token once and repeats the request", async () => {
  let cancelled = false;
  const { fetch, calls } = fakeFetch((_call, i) =>
    i === 0
      ? new Response(
        new ReadableStream({
          cancel() {
            cancelled = true;
          },
        }),
        { status: 401 },
      )
      : new Response("fine")
  );
  let factoryCalls = 0;
  const http = client(fetch, { tokens: new AccessTokenProvider(() => `t${++factoryCalls}`) });
  const response = await http.request({
    method: "POST",
    url: "http://h/x",
    body: "b",
    what: "Send",
  });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "fine");
  assert.equal(calls.length, 2);
  assert.equal(headersOf(calls[0]).Authorization, "Bearer t1");
  assert.equal(headersOf(calls[1]).Authorization, "Bearer t2");
  assert.equal(calls[1].init.body, "b");
  assert.equal(factoryCalls, 2);
  assert.ok(cancelled, "the unread body of the 401 is released");
});

test("HttpClient: a second 401 is returned (once), and httpError makes it an HttpError 401", async () => {
  const { fetch, calls } = fakeFetch(() =>
    new Response("token expired", { status: 401, statusText: "Unauthorized" })
  );
  let factoryCalls = 0;
  const http = client(fetch, { tokens: new AccessTokenProvider(() => `t${++factoryCalls}`) });
  const response = await http.text({ method: "POST", url: "http://h/n", what: "Negotiate" });
  assert.equal(response.status, 401);
  assert.equal(calls.length, 2);
  assert.equal(factoryCalls, 2);
  const error = httpError("Negotiate", response, response.text);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 401);
  assert.equal(error.message, "Negotiate failed: Unauthorized: Status code '401': token expired");
});

test("HttpClient: no refresh after a 401 without a factory or with a redirect's token", async () => {
  const redirected = new AccessTokenProvider(() => "app");
  redirected.override("azure");
  const cases: [AccessTokenProvider, string | undefined][] = [
    [new AccessTokenProvider(), undefined],
    [redirected, "Bearer azure"],
  ];
  for (const [tokens, authorization] of cases) {
    const { fetch, calls } = fakeFetch(() => new Response("", { status: 401 }));
    const response = await client(fetch, { tokens }).request({
      method: "GET",
      url: "http://h/",
      what: "Poll",
    });
    assert.equal(response.status, 401);
    assert.equal(calls.length, 1);
    assert.equal(headersOf(calls[0]).Authorization, authorization);
    await response.body?.cancel();
  }
});

test("HttpClient: other statuses resolve as they are", async () => {
  for (const status of [204, 404, 409, 500]) {
    const { fetch, calls } = fakeFetch(() => new Response(null, { status }));
    const response = await client(fetch).text({ method: "GET", url: "http://h/", what: "Poll" });
    assert.equal(response.status, status);
    assert.equal(response.text, "");
    assert.equal(calls.length, 1);
  }
});

test("HttpClient: a timeout rejects with a TimeoutError naming the request, its id redacted", async () => {
  const { fetch, seen } = hangingFetch();
  await assert.rejects(
    client(fetch).request({
      method: "GET",
      url: "http://h/hub?id=secret-token&_=1",
      timeout: 5,
      what: "Poll",
    }),
    (error: unknown) => {
      assert.ok(error instanceof DOMException);
      assert.equal(error.name, "TimeoutError");
      assert.equal(
        error.message,
        "Poll request to http://h/hub?id=***&_=1 timed out after 5 ms.",
      );
      return true;
    },
  );
  assert.equal(seen[0].aborted, true, "the fetch is aborted, not left running");
});

test("HttpClient: the client's default timeout applies when the request has none", async () => {
  const { fetch } = hangingFetch();
  await assert.rejects(
    client(fetch, { timeout: 5 }).request({ method: "POST", url: "http://h/n", what: "Negotiate" }),
    (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
  );
});

test("HttpClient: text() reads the body within the same timeout", async () => {
  // A body that never ends, errored when the request's signal aborts (as fetch does).
  const fetch = ((_input: RequestInfo | URL, init?: RequestInit) => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("partial"));
        init!.signal!.addEventListener("abort", () => controller.error(init!.signal!.reason), {
          once: true,
        });
      },
    });
    return Promise.resolve(new Response(body));
  }) as typeof globalThis.fetch;
  await assert.rejects(
    client(fetch).text({ method: "GET", url: "http://h/", timeout: 5, what: "Poll" }),
    (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
  );
});

test("HttpClient: timeout false hands the caller's signal to fetch as is", async () => {
  const { fetch, calls } = fakeFetch(() => new Response(""));
  const controller = new AbortController();
  await client(fetch, { timeout: 1 }).request({
    method: "GET",
    url: "http://h/",
    accept: "text/event-stream",
    signal: controller.signal,
    timeout: false,
    what: "Server-Sent Events",
  });
  assert.equal(calls[0].init.signal, controller.signal);
  await client(fetch).request({ method: "GET", url: "http://h/", timeout: false, what: "x" });
  assert.equal(calls[1].init.signal, undefined);
});

test("HttpClient: the caller's signal aborts the request with its reason", async () => {
  const { fetch, seen } = hangingFetch();
  const controller = new AbortController();
  const reason = new Error("stop");
  const pending = client(fetch).request({
    method: "GET",
    url: "http://h/",
    signal: controller.signal,
    what: "Poll",
  });
  // The request reaches fetch only after the token step; wait for it, not for time.
  for (let i = 0; i < 100 && seen.length === 0; i++) await Promise.resolve();
  assert.equal(seen.length, 1);
  controller.abort(reason);
  await assert.rejects(pending, (error: unknown) => error === reason);
  assert.equal(seen[0].aborted, true);

  const { fetch: unused, calls } = fakeFetch(() => new Response(""));
  await assert.rejects(
    client(unused).request({
      method: "GET",
      url: "http://h/",
      signal: AbortSignal.abort(reason),
      what: "Poll",
    }),
    (error: unknown) => error === reason,
  );
  assert.equal(calls.length, 0);
});

test("HttpClient: an abort while the token factory hangs rejects with the reason, no fetch", async () => {
  const { fetch, calls } = fakeFetch(() => new Response(""));
  const controller = new AbortController();
  const reason = new Error("user gave up");
  const pending = client(fetch, {
    tokens: new AccessTokenProvider(() => new Promise<string>(() => {})),
  }).request({ method: "POST", url: "http://h/n", signal: controller.signal, what: "Negotiate" });
  controller.abort(reason);
  await assert.rejects(pending, (error: unknown) => error === reason);
  assert.equal(calls.length, 0);
});

test("HttpClient: a network failure → Error naming the request, redacted, with the cause", async () => {
  const failure = new TypeError(
    "error sending request for url (http://h/hub?id=secret-token): connection refused",
  );
  const fetch = (() => Promise.reject(failure)) as typeof globalThis.fetch;
  await assert.rejects(
    client(fetch).request({ method: "POST", url: "http://h/hub?id=secret-token", what: "Send" }),
    (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.ok(!(error instanceof TypeError));
      // The runtime's error, as a copy with the URL in its message and stack redacted.
      assert.ok(error.cause instanceof Error);
      assert.equal(error.cause.name, "TypeError");
      assert.match(
        error.cause.message,
        /^error sending request for url \(http:\/\/h\/hub\?id=\*\*\*/,
      );
      assert.ok(!String(error.cause.stack).includes("secret-token"));
      assert.match(error.message, /^Send request to http:\/\/h\/hub\?id=\*\*\* failed: /);
      assert.ok(!error.message.includes("secret-token"), error.message);
      return true;
    },
  );
});

test("HttpClient: cookies set by negotiate go back on later requests and on the WebSocket headers", async () => {
  const { fetch, calls } = fakeFetch((_call, i) =>
    i === 0
      ? new Response("{}", {
        headers: [["Set-Cookie", "ARRAffinity=node7; Path=/; HttpOnly"], [
          "Set-Cookie",
          "SERVERID=s2; Path=/hub",
        ]],
      })
      : new Response("")
  );
  const http = client(fetch, {
    cookies: new CookieJar(),
    tokens: new AccessTokenProvider(() => "tok"),
  });
  await http.text({
    method: "POST",
    url: "http://lb/hub/negotiate?negotiateVersion=1",
    what: "Negotiate",
  });
  assert.equal(headersOf(calls[0]).Cookie, undefined);
  await http.request({ method: "POST", url: "http://lb/hub?id=c", body: "x", what: "Send" });
  assert.equal(headersOf(calls[1]).Cookie, "SERVERID=s2; ARRAffinity=node7");
  assert.deepEqual(await http.headers("ws://lb/hub?id=c"), {
    "X-Requested-With": "XMLHttpRequest",
    "X-Tenant": "a",
    Authorization: "Bearer tok",
    Cookie: "SERVERID=s2; ARRAffinity=node7",
  });
  // Another origin gets none.
  assert.equal((await http.headers("ws://elsewhere/hub")).Cookie, undefined);
});

test("HttpClient: a user Cookie header is kept and the jar's cookies appended", async () => {
  const { fetch, calls } = fakeFetch(() =>
    new Response("", { headers: { "Set-Cookie": "lb=1; Path=/" } })
  );
  const http = client(fetch, { headers: { cookie: "app=x" }, cookies: new CookieJar() });
  await http.request({ method: "GET", url: "http://h/", what: "Poll" });
  await http.request({ method: "GET", url: "http://h/", what: "Poll" });
  assert.deepEqual(headersOf(calls[0]), { cookie: "app=x" });
  assert.deepEqual(headersOf(calls[1]), { Cookie: "app=x; lb=1" });
});

test("HttpClient: a cookie set by the 401 is sent on the retry", async () => {
  const { fetch, calls } = fakeFetch((_call, i) =>
    i === 0
      ? new Response("", { status: 401, headers: { "Set-Cookie": "aff=1" } })
      : new Response("")
  );
  const http = client(fetch, {
    cookies: new CookieJar(),
    tokens: new AccessTokenProvider(() => "t"),
  });
  await http.request({ method: "GET", url: "http://h/", what: "Poll" });
  assert.equal(headersOf(calls[1]).Cookie, "aff=1");
});

test("HttpClient: headers() rejects with the reason when aborted during the token", async () => {
  const controller = new AbortController();
  const http = client(fakeFetch(() => new Response("")).fetch, {
    tokens: new AccessTokenProvider(() => new Promise<string>(() => {})),
  });
  const pending = http.headers("ws://h/hub", controller.signal);
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(pending, (error: unknown) => error === reason);
});

test("HttpClient: the log names requests without the connection token", async () => {
  const logger = new CollectingLogger();
  const { fetch } = fakeFetch(() => new Response(""));
  await client(fetch, { logger }).request({
    method: "GET",
    url: "http://h/hub?id=secret-token&_=5",
    what: "Poll",
  });
  assert.deepEqual(logger.messages, ["Poll: GET http://h/hub?id=***&_=5."]);
});

test("redact: id and access_token values are hidden, the rest is kept", () => {
  assert.equal(
    redact("wss://h/hub?x=1&id=abc%2F&ID=z&access_token=eyJ.x.y&keep=id"),
    "wss://h/hub?x=1&id=***&ID=***&access_token=***&keep=id",
  );
  assert.equal(redact("http://h/hub?id=a#frag"), "http://h/hub?id=***#frag");
  assert.equal(redact("failed (http://h/?id=tok) now"), "failed (http://h/?id=*** now");
  assert.equal(redact("http://h/?userid=1&valid=2"), "http://h/?userid=1&valid=2");
});

test("httpError: status, status text and the start of the body", () => {
  const long = "x".repeat(500);
  const error = httpError("Poll", new Response(null, { status: 503, statusText: "" }), long);
  assert.equal(error.status, 503);
  assert.equal(
    error.message,
    `Poll failed: Service Unavailable: Status code '503': ${"x".repeat(200)}`,
  );
  assert.equal(
    httpError("Send", { status: 404, statusText: "Not Found" }, "").message,
    "Send failed: Not Found: Status code '404'",
  );
});

test("HttpClient: a jar given as a loader is loaded once, by the first request, and used", async () => {
  const { fetch, calls } = fakeFetch(() =>
    new Response("", { headers: { "Set-Cookie": "lb=1; Path=/" } })
  );
  let loads = 0;
  const http = client(fetch, {
    cookies: () => {
      loads++;
      return Promise.resolve(new CookieJar());
    },
  });
  assert.equal(loads, 0);
  // Concurrent first requests share one load, and so one jar.
  await Promise.all([
    http.request({ method: "GET", url: "http://h/", what: "Poll" }),
    http.request({ method: "GET", url: "http://h/", what: "Poll" }),
  ]);
  assert.equal(loads, 1);
  await http.request({ method: "GET", url: "http://h/", what: "Poll" });
  assert.equal(headersOf(calls[2]).Cookie, "lb=1");
  assert.equal((await http.headers("ws://h/hub")).Cookie, "lb=1");
  assert.equal(loads, 1);
});
