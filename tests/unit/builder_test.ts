// HubConnectionBuilder: argument validation, build() requirements, and what it produces.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import {
  HttpTransportType,
  HubConnection,
  HubConnectionBuilder,
  HubConnectionState,
  type Logger,
  LogLevel,
  type LogLevelName,
} from "../../mod.ts";
import { toLogger } from "../../src/logger.ts";
import { checkUrl } from "../../src/connection/_url.ts";

class CollectingLogger implements Logger {
  readonly entries: { level: LogLevel; message: string }[] = [];
  log(level: LogLevel, message: string): void {
    this.entries.push({ level, message });
  }
}

const URL_ = "http://localhost:5000/hub";

function quiet() {
  return new HubConnectionBuilder().configureLogging(new CollectingLogger());
}

test("build() without withUrl → TypeError", () => {
  assert.throws(
    () => new HubConnectionBuilder().build(),
    (error: unknown) => error instanceof TypeError && /withUrl/.test(error.message),
  );
});

test("withUrl: an empty or non-string URL → TypeError at once", () => {
  for (const bad of ["", undefined, null, 42, new URL(URL_)]) {
    assert.throws(() => new HubConnectionBuilder().withUrl(bad as string), TypeError, String(bad));
  }
});

test("withUrl: a relative, unparsable or non-http(s) URL → TypeError at build()", () => {
  for (const bad of ["/hub", "not a url", "ftp://host/hub", "ws://host/hub", "file:///hub"]) {
    assert.throws(
      () => quiet().withUrl(bad).build(),
      (error: unknown) => error instanceof TypeError && /Invalid hub URL/.test(error.message),
      bad,
    );
  }
});

test("withUrl: a relative URL is resolved against the page, where there is one", () => {
  const page = "http://example.com:8080/app/page.html?q=1#top";
  assert.equal(checkUrl("/hub", page), "http://example.com:8080/hub");
  assert.equal(checkUrl("hub?x=1#frag", page), "http://example.com:8080/app/hub?x=1");
  assert.equal(checkUrl("../chat", page), "http://example.com:8080/chat");
  assert.equal(checkUrl("//other.example/hub", page), "http://other.example/hub");
  assert.equal(checkUrl("https://host/hub", page), "https://host/hub");
  // No page here (Deno without --location): the message says why.
  assert.throws(
    () => quiet().withUrl("/hub").build(),
    (e: unknown) => e instanceof TypeError && /needs a page to resolve against/.test(e.message),
  );
  assert.throws(
    () => checkUrl("/hub", "file:///app/index.html"),
    (e: unknown) => e instanceof TypeError && /scheme must be http or https/.test(e.message),
  );
});

test("withUrl: skipNegotiation with other transports → TypeError", () => {
  for (
    const transport of [
      undefined,
      HttpTransportType.ServerSentEvents,
      HttpTransportType.LongPolling,
      HttpTransportType.WebSockets | HttpTransportType.ServerSentEvents,
    ]
  ) {
    assert.throws(
      () => quiet().withUrl(URL_, { skipNegotiation: true, transport }).build(),
      (error: unknown) => error instanceof TypeError && /skipNegotiation/.test(error.message),
      `transport ${transport}`,
    );
  }
  // WebSockets alone is fine.
  const connection = quiet()
    .withUrl(URL_, { skipNegotiation: true, transport: HttpTransportType.WebSockets })
    .build();
  assert.equal(connection.state, HubConnectionState.Disconnected);
});

test("withAutomaticReconnect: invalid arguments → TypeError", () => {
  const bad: unknown[] = [{}, "0,1000", 5, { nextRetryDelayInMilliseconds: 5 }, [-1], [NaN], ["1"]];
  for (const policy of bad) {
    assert.throws(
      () => new HubConnectionBuilder().withAutomaticReconnect(policy as number[]),
      TypeError,
      JSON.stringify(policy),
    );
  }
});

test("withAutomaticReconnect: accepts nothing, an array, or a RetryPolicy", () => {
  const builder = new HubConnectionBuilder();
  assert.equal(builder.withAutomaticReconnect(), builder);
  assert.equal(builder.withAutomaticReconnect([0, 1000]), builder);
  assert.equal(
    builder.withAutomaticReconnect({ nextRetryDelayInMilliseconds: () => null }),
    builder,
  );
});

test("timers: zero, negative, NaN or non-number values → TypeError at build()", () => {
  const setters = [
    (b: HubConnectionBuilder, v: number) => b.withServerTimeout(v),
    (b: HubConnectionBuilder, v: number) => b.withKeepAliveInterval(v),
    (b: HubConnectionBuilder, v: number) => b.withHandshakeTimeout(v),
  ];
  const names = ["serverTimeout", "keepAliveInterval", "handshakeTimeout"];
  setters.forEach((set, i) => {
    for (const bad of [0, -1, NaN, "1000" as unknown as number]) {
      assert.throws(
        () => set(quiet().withUrl(URL_), bad).build(),
        (error: unknown) => error instanceof TypeError && error.message.includes(names[i]),
        `${names[i]} = ${bad}`,
      );
    }
  });
});

test("build(): a Disconnected HubConnection with the normalized URL and no id", () => {
  const connection = quiet()
    .withUrl("http://LOCALHOST:5000/hub?x=1", HttpTransportType.WebSockets)
    .withAutomaticReconnect()
    .withServerTimeout(60_000)
    .withKeepAliveInterval(10_000)
    .withHandshakeTimeout(5_000)
    .build();
  assert.ok(connection instanceof HubConnection);
  assert.equal(connection.state, "Disconnected");
  assert.equal(connection.connectionId, null);
  assert.equal(connection.baseUrl, "http://localhost:5000/hub?x=1");
});

test("every builder method returns the builder (fluent)", () => {
  const builder = new HubConnectionBuilder();
  assert.equal(builder.withUrl(URL_), builder);
  assert.equal(builder.withServerTimeout(1), builder);
  assert.equal(builder.withKeepAliveInterval(1), builder);
  assert.equal(builder.withHandshakeTimeout(1), builder);
  assert.equal(builder.configureLogging(LogLevel.None), builder);
});

test("build(): serverTimeout below twice keepAliveInterval logs a warning", () => {
  const logger = new CollectingLogger();
  new HubConnectionBuilder()
    .withUrl(URL_)
    .withServerTimeout(10_000)
    .withKeepAliveInterval(15_000)
    .configureLogging(logger)
    .build();
  const warnings = logger.entries.filter((e) => e.level === LogLevel.Warning);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].message, /serverTimeout \(10000 ms\) is below twice keepAliveInterval/);

  const silent = new CollectingLogger();
  new HubConnectionBuilder().withUrl(URL_).configureLogging(silent).build();
  assert.deepEqual(silent.entries, [], "the defaults (30 s / 15 s) are consistent");
});

test("each build() gives a new connection", () => {
  const builder = quiet().withUrl(URL_);
  assert.notEqual(builder.build(), builder.build());
});

test("configureLogging takes a level's name as @microsoft/signalr does, in any case", () => {
  const names = {
    trace: LogLevel.Trace,
    debug: LogLevel.Debug,
    info: LogLevel.Information,
    Information: LogLevel.Information,
    warn: LogLevel.Warning,
    WARNING: LogLevel.Warning,
    error: LogLevel.Error,
    critical: LogLevel.Critical,
    none: LogLevel.None,
  };
  for (const [name, level] of Object.entries(names)) {
    // The console logger of a level is shared: the name gives the level's own.
    assert.equal(toLogger(name as LogLevelName), toLogger(level), name);
  }
  // And it filters: "none" prints nothing, "trace" everything.
  const printed: unknown[] = [];
  const saved = { log: console.log, warn: console.warn, error: console.error };
  Object.assign(console, { log: printed.push.bind(printed), warn: printed.push.bind(printed) });
  Object.assign(console, { error: printed.push.bind(printed) });
  try {
    toLogger("none").log(LogLevel.Critical, "hidden");
    assert.equal(printed.length, 0);
    toLogger("trace").log(LogLevel.Trace, "shown");
    assert.equal(printed.length, 1);
  } finally {
    Object.assign(console, saved);
  }
});

test("configureLogging: anything but a level, its name or a logger → TypeError at once", () => {
  const builder = new HubConnectionBuilder().withUrl("http://localhost:5000/hub");
  for (const bad of ["verbose", "", 7, -1, 1.5, null, {}, true]) {
    assert.throws(
      () => builder.configureLogging(bad as unknown as LogLevel),
      (e: unknown) => e instanceof TypeError && /Logging takes a LogLevel/.test(e.message),
      String(bad),
    );
  }
});
