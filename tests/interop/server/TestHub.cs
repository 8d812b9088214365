using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;

namespace InteropServer;

public record Address(string Street, string City);

public record Person(string Name, int Age, DateTime Born, string[] Tags, Address? Address);

/// <summary>Item of <see cref="TestHub.StreamObjects"/>.</summary>
public record StreamObject(int Index, string Name, DateTime At);

/// <summary>Values of each type whose wire form depends on the protocol (what
/// <see cref="TestHub.EchoMixedTypes"/> and <see cref="TestHub.GetMixedTypes"/> carry).</summary>
public record MixedTypes(string Text, int[] Numbers, byte[] Bytes, DateTime When, Guid Id);

/// <summary>A two-member object bound from the client's arguments (<see cref="TestHub.SendNameValue"/>).</summary>
public record NameValue(string Name, int Value);

public record MixedUploadResult(string Prefix, int[] A, int Middle, int[] B);

/// <summary>Part of <see cref="Outer"/>.</summary>
public record Inner(string Label, int[] Values);

/// <summary>Nested members, a list, a dictionary (its keys are data: no protocol renames them)
/// and a null member: what <see cref="TestHub.GetOuter"/> returns.</summary>
public record Outer(
    string Name, Inner Child, List<Inner> Items, Dictionary<string, int> Counts, Inner? Missing);

/// <summary>
/// The hub at /hub (and its copies), on the JSON and the MessagePack protocol. Method names are
/// PascalCase here; SignalR matches invocation targets case-insensitively. The JSON protocol
/// writes and binds payload properties in camelCase, the MessagePack protocol with the C# names
/// (`Name`). Untyped values are `object?`: a JsonElement under JSON, MessagePack-CSharp's
/// primitives (Dictionary&lt;object, object&gt;, object[], DateTime, byte[], ...) under
/// MessagePack, written back as they came.
/// </summary>
public class TestHub : Hub
{
    /// <summary>
    /// State of tracked streams and invocations, by key: "running", then "completed",
    /// "cancelled" (the stream's CancellationToken was cancelled, i.e. CancelInvocation or a
    /// disconnect; for TrackedSlow: the connection closed) or "failed" (ended any other way).
    /// Note that a client sees its cancellation take effect before the server has recorded it:
    /// tests should poll GetStreamState.
    /// </summary>
    private static readonly ConcurrentDictionary<string, string> States = new();

    /// <summary>Items of each connection's last completed UploadStream call.</summary>
    private static readonly ConcurrentDictionary<string, string[]> Uploads = new();

    /// <summary>
    /// The pattern of <see cref="GetLargeString"/>: 7 UTF-16 code units
    /// ('a', 'b', 'c', 'é' U+00E9, '漢' U+6F22, then U+1F600 '😀' as a surrogate pair).
    /// </summary>
    public const string LargeStringPattern = "abcé漢😀";

    private static readonly DateTime StreamObjectsBase =
        new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    // ---- basic invocations ------------------------------------------------------------------

    public object? Echo(object? x) => x;

    public int Add(int a, int b) => a + b;

    public string GetConnectionId() => Context.ConnectionId;

    /// <summary>The instance's name (INTEROP_INSTANCE; null when unset): which instance of a
    /// scale-out cluster serves the caller.</summary>
    public string? GetInstance() => ScaleOut.Instance;

    /// <summary>
    /// The hub protocol the caller's handshake chose ("json" or "messagepack"). No public API
    /// exposes it to a hub method: it is read from the HubConnectionContext that ASP.NET Core's
    /// DefaultHubCallerContext keeps in its private field `_connection` (null if that changes).
    /// </summary>
    public string? GetProtocol() =>
        (Context.GetType().GetField("_connection", BindingFlags.NonPublic | BindingFlags.Instance)
            ?.GetValue(Context) as HubConnectionContext)?.Protocol.Name;

    /// <summary>Length in UTF-16 code units (same as JavaScript's String.length).</summary>
    public int EchoLength(string s) => s.Length;

    /// <summary>
    /// A string of exactly n UTF-16 code units: the first n code units of
    /// <see cref="LargeStringPattern"/> repeated, except that when n % 7 == 6 the cut would leave a
    /// lone high surrogate at the end, which is replaced by '_'. In JavaScript:
    /// <code>
    /// let s = "abcé漢😀".repeat(Math.ceil(n / 7)).slice(0, n);
    /// if (n % 7 === 6) s = s.slice(0, -1) + "_";
    /// </code>
    /// (tests/interop/_server.ts exports this as largeString(n)).
    /// </summary>
    public string GetLargeString(int n)
    {
        if (n <= 0)
        {
            return "";
        }
        var sb = new StringBuilder(n + LargeStringPattern.Length);
        while (sb.Length < n)
        {
            sb.Append(LargeStringPattern);
        }
        sb.Length = n;
        if (char.IsHighSurrogate(sb[n - 1]))
        {
            sb[n - 1] = '_';
        }
        return sb.ToString();
    }

    public Person EchoPerson(Person p) => p with { Age = p.Age + 1, Born = p.Born.AddDays(1) };

    /// <summary>Serialized by the JSON protocol as "2024-02-29T13:45:30.123Z", by MessagePack as
    /// a timestamp.</summary>
    public DateTime GetDate() => new(2024, 2, 29, 13, 45, 30, 123, DateTimeKind.Utc);

    // ---- values whose shape depends on the protocol -----------------------------------------

    /// <summary>
    /// Dates that take each form of the MessagePack timestamp extension (type -1) as
    /// MessagePack-CSharp writes them: 32-bit (whole seconds from 1970 below 2^32), 64-bit
    /// (nanoseconds, seconds below 2^34), 96-bit (anything else: before 1970, from 2514 on,
    /// DateTime.MinValue and MaxValue). JSON writes them as ISO 8601 strings ("O" without
    /// trailing zeros in the fraction).
    /// </summary>
    public DateTime[] GetDates() =>
    [
        DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc),
        DateTime.UnixEpoch,
        new(2024, 2, 29, 13, 45, 30, DateTimeKind.Utc),
        new(2024, 2, 29, 13, 45, 30, 123, DateTimeKind.Utc),
        new(1969, 12, 31, 23, 59, 59, 500, DateTimeKind.Utc),
        DateTime.UnixEpoch.AddSeconds(1L << 34),
        DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc),
    ];

    /// <summary>The DateTime as bound on the server: its Kind, then the round-trip format ("O").</summary>
    public string DescribeDate(DateTime d) => $"{d.Kind} {d.ToString("O", CultureInfo.InvariantCulture)}";

    public DateTime EchoDate(DateTime d) => d;

    /// <summary>The bytes 0, 1, ..., n-1 (mod 256): bin under MessagePack, base64 under JSON.</summary>
    public byte[] GetBytes(int n) => Enumerable.Range(0, n).Select(i => (byte)i).ToArray();

    /// <summary>The bytes in reverse order.</summary>
    public byte[] ReverseBytes(byte[] data) => data.Reverse().ToArray();

    /// <summary>The bytes as bound on the server: their count and hex digits.</summary>
    public string DescribeBytes(byte[] data) => $"{data.Length}:{Convert.ToHexString(data)}";

    /// <summary>2^53 + 1 = 9007199254740993, the first integer a JavaScript number cannot hold,
    /// with its negation and the 64-bit extremes.</summary>
    public long[] GetLongs() => [(1L << 53) + 1, -((1L << 53) + 1), long.MaxValue, long.MinValue];

    /// <summary>The long as bound on the server, in decimal.</summary>
    public string DescribeLong(long x) => x.ToString(CultureInfo.InvariantCulture);

    public Outer GetOuter() => new(
        "outer",
        new Inner("child", [1, 2]),
        [new Inner("a", []), new Inner("b", [3])],
        new() { ["Alpha"] = 1, ["beta"] = 2 },
        null);

    /// <summary>What the server bound: members the protocol could not match stay null/empty.</summary>
    public Outer EchoOuter(Outer o) => o with { Name = o.Name + "!" };

    /// <summary>
    /// `depth` levels of nesting around "bottom": level i (from 0, outermost) is the array
    /// [i, inner] when i is even, the map { "level": i, "next": inner } when i is odd.
    /// </summary>
    public object Nest(int depth)
    {
        object value = "bottom";
        for (var i = depth - 1; i >= 0; i--)
        {
            value = i % 2 == 0
                ? new object[] { i, value }
                : new Dictionary<string, object> { ["level"] = i, ["next"] = value };
        }
        return value;
    }

    // ---- errors -----------------------------------------------------------------------------

    /// <summary>
    /// The Completion's error is "An unexpected error occurred invoking 'ThrowHubException' on the
    /// server. HubException: " + message (ASP.NET Core prefixes a HubException's message; observed
    /// with ASP.NET Core 10.0.12).
    /// </summary>
    public void ThrowHubException(string message) => throw new HubException(message);

    /// <summary>
    /// With EnableDetailedErrors = false the client receives the generic Completion error
    /// "An unexpected error occurred invoking 'ThrowException' on the server." (observed with
    /// ASP.NET Core 10.0.12); "secret detail" never leaves the server.
    /// </summary>
    public void ThrowException() => throw new InvalidOperationException("secret detail");

    // ---- broadcast, groups ------------------------------------------------------------------

    public Task SendMessage(string user, string message) =>
        Clients.All.SendAsync("ReceiveMessage", user, message);

    public Task JoinGroup(string g) => Groups.AddToGroupAsync(Context.ConnectionId, g);

    public Task LeaveGroup(string g) => Groups.RemoveFromGroupAsync(Context.ConnectionId, g);

    public Task SendToGroup(string g, string message) =>
        Clients.Group(g).SendAsync("GroupMessage", g, message);

    public Task SendToCaller(string method, object? arg) => Clients.Caller.SendAsync(method, arg);

    // ---- server-to-client streams -----------------------------------------------------------

    /// <summary>0..count-1, with `delay` ms between items (none when 0). Cheap enough for a
    /// 200 000 item benchmark.</summary>
    public async IAsyncEnumerable<int> Counter(
        int count, int delay, [EnumeratorCancellation] CancellationToken ct)
    {
        for (var i = 0; i < count; i++)
        {
            ct.ThrowIfCancellationRequested();
            yield return i;
            if (delay > 0)
            {
                await Task.Delay(delay, ct);
            }
        }
    }

    /// <summary>Same items as <see cref="Counter"/>, produced through a ChannelReader.</summary>
    public ChannelReader<int> ChannelCounter(int count, int delay, CancellationToken ct)
    {
        var channel = Channel.CreateBounded<int>(
            new BoundedChannelOptions(256) { SingleReader = true, SingleWriter = true });
        _ = WriteCounterAsync(channel.Writer, count, delay, null, ct);
        return channel.Reader;
    }

    /// <summary>Like <see cref="Counter"/>, recording its state under `key`.</summary>
    public async IAsyncEnumerable<int> TrackedCounter(
        string key, int count, int delay, [EnumeratorCancellation] CancellationToken ct)
    {
        States[key] = "running";
        var completed = false;
        try
        {
            for (var i = 0; i < count; i++)
            {
                ct.ThrowIfCancellationRequested();
                yield return i;
                if (delay > 0)
                {
                    await Task.Delay(delay, ct);
                }
            }
            completed = true;
        }
        finally
        {
            // Runs before SignalR sends the Completion (normal end), or when SignalR disposes the
            // enumerator after the client cancelled / disconnected.
            States[key] = completed ? "completed" : ct.IsCancellationRequested ? "cancelled" : "failed";
        }
    }

    /// <summary>Like <see cref="ChannelCounter"/>, the writer task recording its state under `key`.</summary>
    public ChannelReader<int> TrackedChannelCounter(string key, int count, int delay, CancellationToken ct)
    {
        States[key] = "running";
        var channel = Channel.CreateBounded<int>(
            new BoundedChannelOptions(256) { SingleReader = true, SingleWriter = true });
        _ = WriteCounterAsync(channel.Writer, count, delay, key, ct);
        return channel.Reader;
    }

    private static async Task WriteCounterAsync(
        ChannelWriter<int> writer, int count, int delay, string? key, CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            for (var i = 0; i < count; i++)
            {
                await writer.WriteAsync(i, ct);
                if (delay > 0)
                {
                    await Task.Delay(delay, ct);
                }
            }
            if (key is not null)
            {
                States[key] = "completed"; // before the client can see the Completion
            }
            writer.TryComplete();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            if (key is not null)
            {
                States[key] = "cancelled";
            }
            writer.TryComplete();
        }
        catch (Exception e)
        {
            if (key is not null)
            {
                States[key] = "failed";
            }
            writer.TryComplete(e);
        }
    }

    /// <summary>"running" / "completed" / "cancelled" / "failed", or null for an unknown key.</summary>
    public string? GetStreamState(string key) => States.TryGetValue(key, out var state) ? state : null;

    /// <summary>Yields 0..count-1, then fails with HubException("stream failed after {count}").
    /// The stream's Completion error is "An error occurred on the server while streaming results.
    /// HubException: stream failed after {count}".</summary>
    public async IAsyncEnumerable<int> StreamThenThrow(int count)
    {
        for (var i = 0; i < count; i++)
        {
            yield return i;
        }
        await Task.Yield();
        throw new HubException("stream failed after " + count);
    }

    /// <summary>Yields { index: i, name: "item i", at: 2024-01-01T00:00:00Z + i seconds } for
    /// i in 0..count-1 (`at` is written like "2024-01-01T00:00:05Z").</summary>
    public async IAsyncEnumerable<StreamObject> StreamObjects(int count)
    {
        for (var i = 0; i < count; i++)
        {
            yield return new StreamObject(i, "item " + i, StreamObjectsBase.AddSeconds(i));
        }
        await Task.CompletedTask;
    }

    // ---- client-to-server streams (uploads) -------------------------------------------------

    /// <summary>As in the ASP.NET Core streaming sample; the items are kept for GetLastUpload
    /// once the upload has completed.</summary>
    public async Task UploadStream(IAsyncEnumerable<string> stream)
    {
        var items = new List<string>();
        await foreach (var item in stream)
        {
            items.Add(item);
        }
        Uploads[Context.ConnectionId] = [.. items];
    }

    /// <summary>Items of the caller's last completed UploadStream, or null.</summary>
    public string[]? GetLastUpload() =>
        Uploads.TryGetValue(Context.ConnectionId, out var items) ? items : null;

    public async Task<string[]> UploadCollect(IAsyncEnumerable<string> stream)
    {
        var items = new List<string>();
        await foreach (var item in stream)
        {
            items.Add(item);
        }
        return [.. items];
    }

    /// <summary>Returns the number of items read (keeps nothing): the upload benchmark.</summary>
    public async Task<int> UploadCount(IAsyncEnumerable<string> stream)
    {
        var count = 0;
        await foreach (var _ in stream)
        {
            count++;
        }
        return count;
    }

    /// <summary>Returns { prefix, a, middle, b }. Both streams are read concurrently, so the
    /// client may interleave their items in any order.</summary>
    public async Task<MixedUploadResult> UploadMixed(
        string prefix, IAsyncEnumerable<int> a, int middle, ChannelReader<int> b)
    {
        async Task<int[]> ReadA()
        {
            var list = new List<int>();
            await foreach (var x in a)
            {
                list.Add(x);
            }
            return [.. list];
        }

        async Task<int[]> ReadB()
        {
            var list = new List<int>();
            await foreach (var x in b.ReadAllAsync())
            {
                list.Add(x);
            }
            return [.. list];
        }

        var ta = ReadA();
        var tb = ReadB();
        await Task.WhenAll(ta, tb);
        return new MixedUploadResult(prefix, ta.Result, middle, tb.Result);
    }

    /// <summary>Returns the first item as soon as it arrives (null for an empty stream),
    /// while the client may still be uploading.</summary>
    public async Task<int?> UploadTakeOne(IAsyncEnumerable<int> s)
    {
        await foreach (var x in s)
        {
            return x;
        }
        return null;
    }

    /// <summary>Returns the number of items read, or, when the client completes the stream with an
    /// error, "client error: " + the message of the exception the enumeration throws: a HubException
    /// whose message is the client's error text unchanged (a Completion with error "upload broke"
    /// gives "client error: upload broke").</summary>
    public async Task<object> UploadFailing(IAsyncEnumerable<int> s)
    {
        var count = 0;
        try
        {
            await foreach (var _ in s)
            {
                count++;
            }
        }
        catch (Exception e)
        {
            return "client error: " + e.Message;
        }
        return count;
    }

    // ---- client results ---------------------------------------------------------------------

    /// <summary>
    /// Invokes `method` on the caller with one argument and returns its result, or
    /// "client error: " + the exception message when the call failed. Observed (ASP.NET Core 10):
    /// <list type="bullet">
    /// <item>Completion with `error: "E"` → a HubException with message "E": "client error: E";</item>
    /// <item>Completion with `result: null` → null;</item>
    /// <item>Completion with neither result nor error → a HubException without a message:
    /// "client error: Exception of type 'Microsoft.AspNetCore.SignalR.HubException' was thrown."
    /// (so a client whose handler returns nothing must still send `"result": null`);</item>
    /// <item>no answer within 10 s → a HubException:
    /// "client error: Invocation canceled by the server."</item>
    /// </list>
    /// Works with MaximumParallelInvocationsPerClient left at its default of 1.
    /// </summary>
    public async Task<object?> AskClient(string method, object? arg)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return await Clients.Caller.InvokeAsync<object?>(method, arg, cts.Token);
        }
        catch (Exception e)
        {
            return "client error: " + e.Message;
        }
    }

    /// <summary>
    /// The ASP.NET Core docs sample for client results (examples/client_results.ts): asks the
    /// connection `connectionId` for "GetMessage" and returns its answer. A failed client call
    /// (the handler threw) propagates as the HubException InvokeAsync throws, so the caller gets
    /// "An unexpected error occurred invoking 'WaitForMessage' on the server. HubException: " +
    /// the client's error text.
    /// The token is made here: ASP.NET Core 10 binds a CancellationToken parameter of a
    /// non-streaming hub method from the client's arguments (observed: a
    /// `WaitForMessage(string connectionId, CancellationToken ct)` called with one argument fails
    /// with "Invocation provides 1 argument(s) but target expects 2.", and the client only sees
    /// "Failed to invoke 'WaitForMessage' due to an error on the server."). The wait ends after
    /// 10 s or when the caller disconnects. Works with MaximumParallelInvocationsPerClient = 1.
    /// </summary>
    public async Task<string> WaitForMessage(string connectionId)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Context.ConnectionAborted);
        cts.CancelAfter(TimeSpan.FromSeconds(10));
        var message = await Clients.Client(connectionId).InvokeAsync<string>("GetMessage", cts.Token);
        return message;
    }

    /// <summary>Like <see cref="AskClient"/> with no argument.</summary>
    public async Task<object?> AskClientNoArgs(string method)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return await Clients.Caller.InvokeAsync<object?>(method, cts.Token);
        }
        catch (Exception e)
        {
            return "client error: " + e.Message;
        }
    }

    // ---- lifecycle --------------------------------------------------------------------------

    /// <summary>Server-side close: the client receives exactly `{"type":7}` (no error, no
    /// allowReconnect) and no Completion for this call; the WebSocket then closes cleanly with code
    /// 1000.</summary>
    public void Abort() => Context.Abort();

    /// <summary>
    /// Drops the transport's TCP connection without sending a SignalR Close message, on every
    /// transport (<see cref="Transports.CutTransport"/>): the connection dies before the
    /// Completion or a Close could be written. Observed 200 times out of 200 with a raw
    /// WebSocket: nothing arrives after the handshake response, and the close event has wasClean
    /// false (Deno reports code 0 for it).
    /// </summary>
    public void DropConnection() => Transports.CutTransport(Context);

    // ASP.NET Core 10 does not inject a CancellationToken into non-streaming hub methods (such a
    // parameter is bound from the client's arguments: "Invocation provides 2 argument(s) but
    // target expects 3."), and it ignores a CancelInvocation message for a non-stream invocation
    // (debug log "CancelInvocationMessage received unexpectedly."): the invocation runs on and its
    // Completion is still sent. SlowEcho and TrackedSlow therefore only stop early when the
    // connection goes away.

    /// <summary>Returns x after delayMs (cut short only when the connection closes).</summary>
    public async Task<object?> SlowEcho(object? x, int delayMs)
    {
        await Task.Delay(delayMs, Context.ConnectionAborted);
        return x;
    }

    /// <summary>Waits delayMs and returns "completed", recording "running" then "completed"
    /// under `key`, or "cancelled" when the connection closed first.</summary>
    public async Task<string> TrackedSlow(string key, int delayMs)
    {
        States[key] = "running";
        try
        {
            await Task.Delay(delayMs, Context.ConnectionAborted);
        }
        catch (OperationCanceledException)
        {
            States[key] = "cancelled";
            throw;
        }
        States[key] = "completed";
        return "completed";
    }

    // ---- scenarios of ASP.NET Core's TypeScript functional suite (functional_test.ts) ------

    /// <summary>The bound object, written back unchanged: JSON as { text, numbers, bytes (base64),
    /// when (ISO 8601), id (Guid string) }, MessagePack with the C# names, a bin, a timestamp and
    /// a Guid string.</summary>
    public MixedTypes EchoMixedTypes(MixedTypes value) => value;

    /// <summary>Fixed values: "mixed", [4, 5, 6], bytes 0A 0B 0C, 2010-06-15T08:30:00Z and the Guid
    /// "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".</summary>
    public MixedTypes GetMixedTypes() => new(
        "mixed",
        [4, 5, 6],
        [0x0A, 0x0B, 0x0C],
        new DateTime(2010, 6, 15, 8, 30, 0, DateTimeKind.Utc),
        new Guid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"));

    /// <summary>Sends the bound object back to the caller as "NameValue".</summary>
    public Task SendNameValue(NameValue value) => Clients.Caller.SendAsync("NameValue", value);

    /// <summary>Concatenates an uploaded stream of strings read through a ChannelReader. When the
    /// client ends the stream with an error, reading throws it and the call fails with it.</summary>
    public async Task<string> ConcatUpload(ChannelReader<string> parts)
    {
        var sb = new StringBuilder();
        await foreach (var part in parts.ReadAllAsync())
        {
            sb.Append(part);
        }
        return sb.ToString();
    }

    /// <summary>A streaming method that fails before its first item: the stream's Completion
    /// error is the invocation error ("An unexpected error occurred invoking ... HubException: "
    /// + message), not the mid-stream one.</summary>
    public ChannelReader<int> StreamFailsAtOnce(string message) => throw new HubException(message);

    /// <summary>A cookie of the connection's HttpContext, or null when it was not sent.</summary>
    public string? GetCookie(string name) =>
        Context.GetHttpContext()?.Request.Cookies.TryGetValue(name, out var value) == true ? value : null;

    // ---- request info -----------------------------------------------------------------------

    /// <summary>A header of the connection's HttpContext (for WebSockets and SSE the request that
    /// opened the transport), or null when absent.</summary>
    public string? GetHeader(string name)
    {
        var headers = Context.GetHttpContext()?.Request.Headers;
        return headers is not null && headers.TryGetValue(name, out var value) ? value.ToString() : null;
    }

    /// <summary>A query parameter of the connection's HttpContext, or null when absent.</summary>
    public string? GetQuery(string name)
    {
        var query = Context.GetHttpContext()?.Request.Query;
        return query is not null && query.TryGetValue(name, out var value) ? value.ToString() : null;
    }
}

/// <summary>TestHub with a one-second client timeout (Program.cs).</summary>
public class ClientTimeoutHub : TestHub
{
}

/// <summary>TestHub that pings every second and times a client out after 15 s (Program.cs).</summary>
public class QuickPingsHub : TestHub
{
}
