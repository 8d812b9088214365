using System.Diagnostics;
using Microsoft.AspNetCore.SignalR;
using StackExchange.Redis;

namespace InteropServer;

/// <summary>
/// Scale-out (tests/scaleout/_cluster.ts): several instances behind haproxy, sharing a Redis
/// backplane. With INTEROP_REDIS (`host:port`) set, `AddStackExchangeRedis` on the channel prefix
/// INTEROP_REDIS_PREFIX (the harness gives each cluster its own, so clusters running in parallel
/// on one Redis would not mix; the default is the Redis address, enough for one cluster).
/// INTEROP_INSTANCE names the instance: the hubs' `GetInstance()` returns it, so a test sees
/// which instance a connection landed on. Without INTEROP_REDIS nothing changes.
/// </summary>
public static class ScaleOut
{
    /// <summary>INTEROP_INSTANCE, or null.</summary>
    public static readonly string? Instance = Environment.GetEnvironmentVariable("INTEROP_INSTANCE");

    /// <summary>Adds the backplane when the harness asks for it.</summary>
    public static WebApplicationBuilder AddScaleOut(this WebApplicationBuilder builder)
    {
        var redis = Environment.GetEnvironmentVariable("INTEROP_REDIS");
        if (string.IsNullOrEmpty(redis))
        {
            return builder;
        }
        var prefix = Environment.GetEnvironmentVariable("INTEROP_REDIS_PREFIX");
        if (string.IsNullOrEmpty(prefix))
        {
            prefix = "interop-" + redis;
        }
        // AddSignalR is idempotent: Program.cs's later call with its options adds to this one.
        builder.Services.AddSignalR().AddStackExchangeRedis(redis, o =>
        {
            o.Configuration.ChannelPrefix = RedisChannel.Literal(prefix);
            // Fail at startup when Redis is not there, rather than run as a lone instance.
            o.Configuration.AbortOnConnectFail = true;
        });
        return builder;
    }

    /// <summary>
    /// The scale-out endpoints:
    /// <list type="bullet">
    /// <item>`POST /scaleout/broadcast?count=N&amp;intervalMs=M` sends `Tick(seq, sentAtUnixMs)` to
    /// every client of /hub (all instances, through the backplane) N times, seq 0..N-1, one every
    /// M ms (on a fixed schedule from the first: a slow send does not shift the later ones), in
    /// the background; it answers 202 at once. For the load benchmark.</item>
    /// <item>`GET /scaleout/pid`: the process id, so that a test can kill an instance abruptly
    /// (SIGKILL: no graceful shutdown, its TCP connections reset).</item>
    /// </list>
    /// </summary>
    public static WebApplication MapScaleOut(this WebApplication app)
    {
        app.MapPost("/scaleout/broadcast", (
            int count, int intervalMs, IHubContext<TestHub> hub, IHostApplicationLifetime lifetime,
            ILoggerFactory loggers) =>
        {
            if (count < 0 || intervalMs < 0)
            {
                return Results.BadRequest("count and intervalMs must not be negative");
            }
            var logger = loggers.CreateLogger("InteropServer.ScaleOut");
            var stopping = lifetime.ApplicationStopping;
            _ = Task.Run(async () =>
            {
                var clock = Stopwatch.StartNew();
                try
                {
                    for (var seq = 0; seq < count; seq++)
                    {
                        var due = TimeSpan.FromMilliseconds((double)seq * intervalMs) - clock.Elapsed;
                        if (due > TimeSpan.Zero)
                        {
                            await Task.Delay(due, stopping);
                        }
                        await hub.Clients.All.SendAsync(
                            "Tick", seq, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), stopping);
                    }
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    // The instance is stopping.
                }
                catch (Exception e)
                {
                    logger.LogError(e, "broadcast failed");
                }
            });
            return Results.Accepted();
        });
        app.MapGet("/scaleout/pid", () => Environment.ProcessId);
        return app;
    }
}
