// Interop test server for @signalrcore/client.
//
// Started by tests/interop/_server.ts as `dotnet InteropServer.dll --urls http://127.0.0.1:0`.
// Protocol with the harness:
//   * after the server has started it prints exactly one line `LISTENING <url>` to stdout
//     (e.g. `LISTENING http://127.0.0.1:45123`); nothing else is written to stdout;
//   * it stops when stdin reaches EOF (so a server orphaned by a crashed test process dies),
//     or on SIGINT/SIGTERM as usual;
//   * logs (Warning and above; SignalR's debug logs too with INTEROP_LOG=debug) go to the file
//     named by INTEROP_LOG_FILE when it is set (the harness sets it unless INTEROP_LOG=debug),
//     to stderr otherwise.

using InteropServer;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.Connections;

var builder = WebApplication.CreateBuilder(args);

var debugLogs = string.Equals(
    Environment.GetEnvironmentVariable("INTEROP_LOG"), "debug", StringComparison.OrdinalIgnoreCase);
var logFile = Environment.GetEnvironmentVariable("INTEROP_LOG_FILE");

builder.Logging.ClearProviders();
if (!string.IsNullOrEmpty(logFile))
{
    builder.Logging.AddProvider(new FileLoggerProvider(logFile));
}
else
{
    builder.Logging.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    });
    // Every log line to stderr: stdout carries only the LISTENING line.
    builder.Logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(
        o => o.LogToStandardErrorThreshold = LogLevel.Trace);
}
builder.Logging.SetMinimumLevel(LogLevel.Warning);
if (debugLogs)
{
    builder.Logging.AddFilter("Microsoft.AspNetCore.SignalR", LogLevel.Debug);
    builder.Logging.AddFilter("Microsoft.AspNetCore.Http.Connections", LogLevel.Debug);
    builder.Logging.AddFilter("InteropServer", LogLevel.Debug);
}

// Keys in memory only: nothing written under ~/.aspnet, no "No XML encryptor" warning.
builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();

builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));

// How long a connection without a transport is kept (ASP.NET Core's default: 15 s), for a test
// that needs the server to forget a dropped stateful reconnect connection soon.
if (int.TryParse(Environment.GetEnvironmentVariable("INTEROP_DISCONNECT_TIMEOUT_MS"), out var disconnectMs))
{
    builder.Services.Configure<ConnectionOptions>(
        o => o.DisconnectTimeout = TimeSpan.FromMilliseconds(disconnectMs));
}

builder.Services
    .AddSignalR(o =>
    {
        // Tests send 200 KB payloads (default limit is 32 KB).
        o.MaximumReceiveMessageSize = 1024 * 1024;
        // Tests assert the generic error text for non-HubException exceptions.
        o.EnableDetailedErrors = false;
        // MaximumParallelInvocationsPerClient stays at its default (1): on ASP.NET Core 10 a hub
        // method awaiting a client result (TestHub.AskClient) works with it, and the client's
        // other invocations are still served while that method waits (observed: Add completed
        // in ~3 ms while AskClient was pending).
    })
    // Beside JSON, on every hub; each client picks one in its handshake. Default options:
    // MessagePack-CSharp's contractless resolver keeps C# member names as they are, writes
    // DateTime as the timestamp extension and byte[] as bin.
    .AddMessagePackProtocol()
    // /hub-client-timeout: the server's client timeout, short enough for a test to see it drop a
    // client that went quiet (ASP.NET Core arms it at the client's first Ping).
    .AddHubOptions<ClientTimeoutHub>(o => o.ClientTimeoutInterval = TimeSpan.FromSeconds(1))
    // /hub-quick-pings: the server pings every second and drops a client silent for 15 s (the
    // browser test of a hidden tab, whose timers Chrome throttles).
    .AddHubOptions<QuickPingsHub>(o =>
    {
        o.KeepAliveInterval = TimeSpan.FromSeconds(1);
        o.ClientTimeoutInterval = TimeSpan.FromSeconds(15);
    });

// Scale-out (ScaleOut.cs): the Redis backplane and an instance name, when the harness asks.
builder.AddScaleOut();

builder.Services
    .AddAuthentication(TokenAuthHandler.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, TokenAuthHandler>(TokenAuthHandler.SchemeName, null)
    .AddScheme<AuthenticationSchemeOptions, ExpiringTokenAuthHandler>(
        ExpiringTokenAuthHandler.SchemeName, null)
    // The Azure SignalR Service role's tokens (Azure.cs).
    .AddScheme<AuthenticationSchemeOptions, AzureServiceAuthHandler>(
        AzureServiceAuthHandler.SchemeName, null);
builder.Services.AddAuthorization();

// Browser tests (tests/browser_test.ts) load their page from another origin than this server:
// INTEROP_CORS_ORIGINS (comma-separated) are allowed, with credentials (cookies) and the headers
// a SignalR client sends (Content-Type: Long Polling posts MessagePack as
// application/octet-stream, which is not CORS-safelisted). Requests without an Origin header (every non-browser test) are not
// affected; without the variable no origin is allowed.
var corsOrigins = (Environment.GetEnvironmentVariable("INTEROP_CORS_ORIGINS") ?? "")
    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
builder.Services.AddCors(o => o.AddDefaultPolicy(policy => policy
    .WithOrigins(corsOrigins)
    .WithHeaders(
        "Authorization", "Content-Type", "X-Requested-With", "X-SignalR-User-Agent")
    .WithMethods("GET", "POST", "DELETE")
    .AllowCredentials()));

var app = builder.Build();

// First, so that preflight requests and every answer (errors and short-circuits included) carry
// the CORS headers.
app.UseCors();

// Requests with `case=<name>` in the query: logged (GET /requests?case=<name>), and negotiate
// sets a cookie (Transports.cs).
app.UseRequestLog();
app.UseNegotiateCookie();
// /hub-cookies: negotiate sets two cookies and an expired one (Functional.cs).
app.UseFunctionalCookies();
// /hub-ws-blocked offers WebSockets but refuses the upgrade, as a proxy that does not pass
// WebSockets would: a client must negotiate again and fall back to the next transport.
app.Use((ctx, next) =>
{
    if (ctx.Request.Path.StartsWithSegments("/hub-ws-blocked") && Transports.IsWebSocketUpgrade(ctx))
    {
        ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
        return Task.CompletedTask;
    }
    return next(ctx);
});
app.UseAuthentication();
app.UseAuthorization();
app.UsePollTracker();

app.MapHub<TestHub>("/hub");
app.MapHub<AuthHub>("/authhub");
app.MapHub<FailingHub>("/failinghub");
app.MapHub<ExpiringHub>("/expiringhub");
// The same hub without WebSockets (negotiate lists ServerSentEvents, then LongPolling), and
// with Long Polling only: what a client with the default transport option falls back to.
app.MapHub<TestHub>("/hub-sse-lp",
    o => o.Transports = HttpTransportType.ServerSentEvents | HttpTransportType.LongPolling);
app.MapHub<TestHub>("/hub-lp", o => o.Transports = HttpTransportType.LongPolling);
app.MapHub<TestHub>("/hub-ws-blocked");
app.MapHub<TestHub>(FunctionalCookies.HubPath);
app.MapHub<ClientTimeoutHub>("/hub-client-timeout");
app.MapHub<QuickPingsHub>("/hub-quick-pings");
app.MapHub<UnresolvableHub>("/unresolvable");
// Stateful reconnect (StatefulHub.cs); /hub-stateful-lp allows it on Long Polling only, where a
// client must go without it (it needs WebSockets). /hub-stateful-gone?id= waits until the server
// forgot a connection.
app.MapHub<StatefulHub>("/hub-stateful", o => o.AllowStatefulReconnects = true);
app.MapHub<StatefulHub>("/hub-stateful-lp", o =>
{
    o.AllowStatefulReconnects = true;
    o.Transports = HttpTransportType.LongPolling;
});
app.MapPost("/hub-stateful-gone", (string id) => StatefulHub.WaitGone(id));
// The bench's stateful rows (bench/README.md): TestHub (Counter, UploadCount) with stateful
// reconnect allowed and the default disconnect timeout and buffer size.
app.MapHub<TestHub>("/hub-stateful-bench", o => o.AllowStatefulReconnects = true);
app.MapRequestLog();

// A fake Azure-SignalR-style negotiate: redirects the client to /authhub with an access token.
app.MapPost("/redirect/negotiate", (HttpContext ctx) =>
{
    var baseUrl = $"{ctx.Request.Scheme}://{ctx.Request.Host}";
    return Results.Json(new { url = baseUrl + "/authhub", accessToken = TokenAuthHandler.Token });
});

// Scale-out endpoints (ScaleOut.cs) and the Azure SignalR Service roles (Azure.cs).
app.MapScaleOut();
app.MapAzureRoles();

// A negotiate that refuses the connection with an `error` field (status 200, as in the protocol).
app.MapPost("/negotiate-error/negotiate",
    () => Results.Json(new { error = "negotiate refused by test server" }));

await app.StartAsync();

Console.Out.WriteLine("LISTENING " + app.Urls.First());
Console.Out.Flush();

// Stop when stdin closes: the harness keeps it open for the server's lifetime.
_ = Task.Run(async () =>
{
    try
    {
        using var stdin = Console.OpenStandardInput();
        var buffer = new byte[256];
        while (await stdin.ReadAsync(buffer) > 0)
        {
        }
    }
    catch
    {
        // Treat a broken stdin like EOF.
    }
    app.Lifetime.StopApplication();
});

await app.WaitForShutdownAsync();
