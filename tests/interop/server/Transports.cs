using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Features;
using Microsoft.AspNetCore.SignalR;

namespace InteropServer;

/// <summary>
/// What the transport tests need around the hubs: a log of the HTTP requests of a test case, a
/// cookie set by negotiate, the Long Polling poll in flight of each connection (so that a hub
/// method can cut it), and a token that expires on the next poll or send.
/// </summary>
public static class Transports
{
    // ---- request log ------------------------------------------------------------------------

    /// <summary>One HTTP request as the server saw it.</summary>
    public sealed class RequestEntry
    {
        public required string Method { get; init; }
        public required string Path { get; init; }
        /// <summary>The query without the `case` parameter; `id`'s value is kept (it is the
        /// connection token, a test secret at most).</summary>
        public required string Query { get; init; }
        /// <summary>Every request header (names as received, values joined with ", ").</summary>
        public required Dictionary<string, string> Headers { get; init; }
        /// <summary>The response status once it was sent (101 for a WebSocket, 200 for an SSE
        /// stream as soon as it starts), null while the request has not answered yet.</summary>
        public int? Status { get; set; }
        /// <summary>Whether the request was aborted (by the client or by a cut) before it was
        /// answered in full.</summary>
        public bool Aborted { get; set; }
    }

    private static readonly ConcurrentDictionary<string, List<RequestEntry>> Requests = new();

    /// <summary>
    /// Records every request whose query has `case=&lt;name&gt;` (the client keeps the hub URL's
    /// query on negotiate and on every transport request), before authentication, so 401s show.
    /// `GET /requests?case=&lt;name&gt;` returns them in arrival order.
    /// </summary>
    public static IApplicationBuilder UseRequestLog(this IApplicationBuilder app) =>
        app.Use(async (ctx, next) =>
        {
            var name = ctx.Request.Query["case"].ToString();
            if (name.Length == 0 || ctx.Request.Path.StartsWithSegments("/requests"))
            {
                await next(ctx);
                return;
            }
            var query = string.Join("&", ctx.Request.Query
                .Where(q => q.Key != "case")
                .Select(q => $"{q.Key}={q.Value}"));
            var entry = new RequestEntry
            {
                Method = ctx.Request.Method,
                Path = ctx.Request.Path.Value ?? "",
                Query = query,
                Headers = ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString()),
            };
            var list = Requests.GetOrAdd(name, _ => []);
            lock (list) list.Add(entry);
            ctx.Items[typeof(RequestEntry)] = entry;
            ctx.Response.OnStarting(() =>
            {
                // Kestrel runs OnStarting for an aborted request too, though it sends nothing.
                if (!entry.Aborted && !ctx.RequestAborted.IsCancellationRequested)
                {
                    entry.Status = ctx.Response.StatusCode;
                }
                return Task.CompletedTask;
            });
            try
            {
                await next(ctx);
            }
            finally
            {
                entry.Aborted |= ctx.RequestAborted.IsCancellationRequested;
                if (!entry.Aborted) entry.Status ??= ctx.Response.StatusCode;
            }
        });

    /// <summary>
    /// Aborts a request and marks its log entry aborted at once. Its pipeline may end well
    /// after the client reconnected (on a busy machine), and the entry would read as
    /// not aborted until then.
    /// </summary>
    private static void Cut(HttpContext ctx)
    {
        if (ctx.Items[typeof(RequestEntry)] is RequestEntry entry) entry.Aborted = true;
        ctx.Abort();
    }

    /// <summary>`GET /requests?case=&lt;name&gt;`: the requests recorded for a case.</summary>
    public static void MapRequestLog(this IEndpointRouteBuilder app) =>
        app.MapGet("/requests", (string @case) =>
        {
            if (!Requests.TryGetValue(@case, out var list)) return Results.Json(Array.Empty<RequestEntry>());
            lock (list) return Results.Json(list.ToArray(), JsonOptions);
        });

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    // ---- cookie -----------------------------------------------------------------------------

    /// <summary>The cookie that negotiate sets for a logged case (as a load balancer sets its
    /// affinity cookie); its value is the case's name.</summary>
    public const string CookieName = "affinity";

    /// <summary>Sets <see cref="CookieName"/> on the answer of every `POST .../negotiate` whose
    /// query has `case=&lt;name&gt;`.</summary>
    public static IApplicationBuilder UseNegotiateCookie(this IApplicationBuilder app) =>
        app.Use((ctx, next) =>
        {
            var name = ctx.Request.Query["case"].ToString();
            if (name.Length > 0 && HttpMethods.IsPost(ctx.Request.Method) &&
                ctx.Request.Path.Value?.EndsWith("/negotiate", StringComparison.Ordinal) == true)
            {
                ctx.Response.Cookies.Append(CookieName, name,
                    new CookieOptions { Path = "/", HttpOnly = true, SameSite = SameSiteMode.Lax });
            }
            return next(ctx);
        });

    // ---- Long Polling: the poll in flight ---------------------------------------------------

    private static readonly ConcurrentDictionary<string, HttpContext> ActivePolls = new();
    /// <summary>Connection tokens whose every poll is cut from now on (the value is unused).</summary>
    private static readonly ConcurrentDictionary<string, int> PollsToCut = new();
    private static readonly object PollLock = new();

    /// <summary>A WebSocket upgrade request, told by its headers: ctx.WebSockets.IsWebSocketRequest
    /// is false outside the hub's endpoint, whose own pipeline adds the WebSockets middleware.
    /// </summary>
    public static bool IsWebSocketUpgrade(HttpContext ctx) =>
        ctx.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase);

    private static bool IsPoll(HttpContext ctx) =>
        HttpMethods.IsGet(ctx.Request.Method) &&
        ctx.Request.Query.ContainsKey("id") &&
        !IsWebSocketUpgrade(ctx) &&
        !ctx.Request.Headers.Accept.ToString().Contains("text/event-stream");

    /// <summary>
    /// Keeps, per connection token, the HttpContext of the Long Polling poll in flight (a GET
    /// with `id=` that is neither a WebSocket upgrade nor an SSE stream). Runs after
    /// authentication: a poll refused with 401 never becomes the poll in flight.
    /// </summary>
    public static IApplicationBuilder UsePollTracker(this IApplicationBuilder app) =>
        app.Use(async (ctx, next) =>
        {
            if (!IsPoll(ctx))
            {
                await next(ctx);
                return;
            }
            var token = ctx.Request.Query["id"].ToString();
            lock (PollLock)
            {
                if (PollsToCut.ContainsKey(token))
                {
                    Cut(ctx);
                    return;
                }
                ActivePolls[token] = ctx;
            }
            try
            {
                await next(ctx);
            }
            finally
            {
                ActivePolls.TryRemove(new KeyValuePair<string, HttpContext>(token, ctx));
            }
        });

    /// <summary>
    /// Cuts the transport of the calling connection without a SignalR Close message.
    ///
    /// WebSockets and SSE: HttpContext.Abort() on the request that carries the transport (the
    /// connection's HttpContext). Kestrel drops the TCP connection: no WebSocket close frame, no
    /// end of the SSE chunked body, so the client's read fails.
    ///
    /// Long Polling: the connection's HttpContext is a copy of the first poll's (ASP.NET Core's
    /// HttpConnectionDispatcher.CloneHttpContext) whose Abort() does nothing, and Context.Abort()
    /// or IConnectionLifetimeFeature.Abort() end the hub, which then writes a Close message that
    /// the next poll delivers (then 204). So the poll in flight is aborted instead: its TCP
    /// connection drops before any response. Deno's and Bun's fetch send a GET whose keep-alive
    /// connection was reset once more on a new connection (observed with Deno 2.9.6 and Bun
    /// 1.4.5: the server logged the poll twice and the client got the retried poll's answer), so
    /// every later poll of that connection token is cut as well, however often a runtime retries:
    /// the token is dead for its client, which reconnects with a new one. ASP.NET Core keeps the
    /// connection as inactive until its disconnect timeout, its Completion and Close unread in
    /// its buffer.
    /// </summary>
    public static void CutTransport(HubCallerContext context)
    {
        var http = context.GetHttpContext()!;
        if (context.Features.Get<IHttpTransportFeature>()?.TransportType != HttpTransportType.LongPolling)
        {
            Cut(http);
            return;
        }
        var token = http.Request.Query["id"].ToString();
        lock (PollLock)
        {
            PollsToCut[token] = 1;
            // A poll already answering is let go: the client's next poll is the one cut.
            if (ActivePolls.TryRemove(token, out var poll) && !poll.Response.HasStarted) Cut(poll);
        }
    }

    // ---- an access token that expires -------------------------------------------------------

    /// <summary>Connection tokens whose next poll (GET) or send (POST) gets a 401.</summary>
    private static readonly ConcurrentDictionary<string, string> ExpireOn = new();
    /// <summary>Access tokens refused from now on.</summary>
    private static readonly ConcurrentDictionary<string, bool> Expired = new();

    /// <summary>
    /// Arms a 401 for the calling connection: the next request of that kind ("poll" or "send")
    /// is refused and its access token is expired for good, so only a new token gets through.
    /// </summary>
    public static void ExpireTokenOnNext(HubCallerContext context, string kind)
    {
        if (kind != "poll" && kind != "send") throw new HubException($"unknown request kind {kind}");
        ExpireOn[context.GetHttpContext()!.Request.Query["id"].ToString()] = kind;
    }

    /// <summary>Whether `token` is refused for this request (and arms its expiry when due).</summary>
    internal static bool IsExpired(HttpContext ctx, string token)
    {
        if (Expired.ContainsKey(token)) return true;
        var id = ctx.Request.Query["id"].ToString();
        if (id.Length == 0 || !ExpireOn.TryGetValue(id, out var kind)) return false;
        var due = kind == "poll" ? IsPoll(ctx) : HttpMethods.IsPost(ctx.Request.Method);
        if (!due || !ExpireOn.TryRemove(new KeyValuePair<string, string>(id, kind))) return false;
        Expired[token] = true;
        return true;
    }
}

/// <summary>
/// Hub at /expiringhub: bearer tokens `tok-*` (any suffix) are accepted until the hub expires one
/// with <see cref="ExpireTokenOnNext"/>; refused tokens answer 401.
/// </summary>
[Microsoft.AspNetCore.Authorization.Authorize(AuthenticationSchemes = ExpiringTokenAuthHandler.SchemeName)]
public class ExpiringHub : Hub
{
    public int Add(int a, int b) => a + b;

    public string? WhoAmI() => Context.User?.Identity?.Name;

    /// <summary>The next poll ("poll") or send ("send") of this connection gets a 401 and its
    /// token expires.</summary>
    public void ExpireTokenOnNext(string kind) => Transports.ExpireTokenOnNext(Context, kind);
}
