// TestHub's server on Deno: `Deno.serve`, behind the TCP relay.
import type { HubServer, RequestHandler, Upgrade, WebSocketLike } from "./_server_adapter.ts";
import { WebSocketLikeSocket } from "./_server_adapter.ts";
import { TcpRelay } from "./_tcp_relay.ts";

/** Starts `Deno.serve` on 127.0.0.1, a free port, and its relay. */
export async function listen(handler: RequestHandler): Promise<HubServer> {
  const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: resolve,
    // Read now: the request's connection info is gone once it is upgraded.
    handler: (request, info) => handler(request, (info.remoteAddr as Deno.NetAddr).port),
  });
  const address = await promise;
  const relay = new TcpRelay(address.port);
  return {
    port: relay.port,
    cutter: relay,
    upgrade(request: Request): Upgrade {
      const upgrade = Deno.upgradeWebSocket(request);
      return {
        socket: new WebSocketLikeSocket(upgrade.socket as unknown as WebSocketLike),
        response: upgrade.response,
      };
    },
    async close(drainMs: number): Promise<void> {
      await server.shutdown();
      await relay.close(drainMs);
    },
  };
}
