using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;

namespace InteropServer;

/// <summary>What <see cref="StatefulHub.Report"/> returns: everything the server saw of the
/// caller's connection.</summary>
/// <param name="ConnectionId">The server's id of the caller's connection.</param>
/// <param name="Connects">OnConnectedAsync calls for that id (1 while it was only reattached).</param>
/// <param name="Calls">Echo ("e7") and Note ("n7") calls, in the order the hub ran them.</param>
/// <param name="Uploaded">Items of every Upload, in the order they were read.</param>
/// <param name="Pumped">Items sent by Pump so far (stream items and Ticks each).</param>
public record StatefulReport(string ConnectionId, int Connects, string[] Calls, int[] Uploaded, int Pumped);

/// <summary>One connection's record, kept from OnConnectedAsync to OnDisconnectedAsync.</summary>
public sealed class StatefulRecord
{
    public readonly object Lock = new();
    public readonly List<string> Calls = [];
    public readonly List<int> Uploaded = [];
    public readonly Channel<int> Feed = Channel.CreateUnbounded<int>();
    public int Connects;
    public int Pumped;
    public readonly TaskCompletionSource Disconnected =
        new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// The hub at /hub-stateful (`AllowStatefulReconnects = true`): a two-way exchange whose every
/// message the server records, for the stateful reconnect tests (tests/interop/stateful_test.ts)
/// that cut the live TCP connection many times. What a connection did is kept under its id, which
/// a reattach keeps. `POST /hub-stateful-gone?id=` waits until the server forgot a connection.
/// </summary>
public class StatefulHub : Hub
{
    private static readonly ConcurrentDictionary<string, StatefulRecord> Records = new();

    private StatefulRecord Record => Records.GetOrAdd(Context.ConnectionId, _ => new StatefulRecord());

    public override Task OnConnectedAsync()
    {
        var record = Record;
        Interlocked.Increment(ref record.Connects);
        return Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        if (Records.TryRemove(Context.ConnectionId, out var record))
        {
            record.Feed.Writer.TryComplete();
            record.Disconnected.TrySetResult();
        }
        return Task.CompletedTask;
    }

    public string GetConnectionId() => Context.ConnectionId;

    /// <summary>The instance's name (INTEROP_INSTANCE; null when unset).</summary>
    public string? GetInstance() => ScaleOut.Instance;

    /// <summary>Recorded as "e{i}"; returns i.</summary>
    public int Echo(int i)
    {
        var record = Record;
        lock (record.Lock)
        {
            record.Calls.Add("e" + i);
        }
        return i;
    }

    /// <summary>Recorded as "n{i}" (for `send`).</summary>
    public void Note(int i)
    {
        var record = Record;
        lock (record.Lock)
        {
            record.Calls.Add("n" + i);
        }
    }

    /// <summary>Records every item; returns how many there were once the client completes it.</summary>
    public async Task<int> Upload(IAsyncEnumerable<int> items)
    {
        var record = Record;
        var count = 0;
        await foreach (var item in items)
        {
            lock (record.Lock)
            {
                record.Uploaded.Add(item);
            }
            count++;
        }
        return count;
    }

    /// <summary>The caller's feed: every item Pump writes, until EndFeed.</summary>
    public ChannelReader<int> Feed() => Record.Feed.Reader;

    /// <summary>Writes the next `count` numbers (0, 1, ... across calls) to the feed and sends
    /// each as a `Tick(i)` invocation to the caller.</summary>
    public async Task Pump(int count)
    {
        var record = Record;
        for (var k = 0; k < count; k++)
        {
            var i = record.Pumped++;
            await record.Feed.Writer.WriteAsync(i);
            await Clients.Caller.SendAsync("Tick", i);
        }
    }

    /// <summary>Completes the caller's feed.</summary>
    public void EndFeed() => Record.Feed.Writer.TryComplete();

    /// <summary>Asks the caller for `Square(i)` (a client result) and returns its answer.</summary>
    public async Task<int> Ask(int i)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Context.ConnectionAborted);
        cts.CancelAfter(TimeSpan.FromSeconds(30));
        return await Clients.Caller.InvokeAsync<int>("Square", i, cts.Token);
    }

    /// <summary>Returns only when the connection ends: a call left pending.</summary>
    public async Task Hold()
    {
        await Task.Delay(Timeout.Infinite, Context.ConnectionAborted);
    }

    public StatefulReport Report()
    {
        var record = Record;
        lock (record.Lock)
        {
            return new StatefulReport(
                Context.ConnectionId, record.Connects, [.. record.Calls], [.. record.Uploaded],
                record.Pumped);
        }
    }

    /// <summary>
    /// Waits (at most 10 s) until the connection `id` has ended on the server (OnDisconnectedAsync):
    /// 200 then, 404 when the hub does not know the id. A test whose client lost its transport
    /// waits here for the server to forget the connection (after `DisconnectTimeout`).
    /// </summary>
    public static async Task<IResult> WaitGone(string id)
    {
        if (!Records.TryGetValue(id, out var record))
        {
            return Results.NotFound();
        }
        await record.Disconnected.Task.WaitAsync(TimeSpan.FromSeconds(10));
        return Results.Ok();
    }
}
