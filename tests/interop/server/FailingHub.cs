using Microsoft.AspNetCore.SignalR;

namespace InteropServer;

/// <summary>
/// A hub whose OnConnectedAsync throws after sending one message: ASP.NET Core then writes the
/// handshake response, that message and a Close message with an error, and closes the socket.
/// </summary>
public class FailingHub : Hub
{
    public override async Task OnConnectedAsync()
    {
        await Clients.Caller.SendAsync("Welcome", "hello");
        throw new InvalidOperationException("OnConnectedAsync failed on purpose.");
    }

    public int Add(int a, int b) => a + b;
}
