/**
 * The MessagePack hub protocol for `@signalrcore/client`, on `@msgpack/msgpack`. It lives in
 * its own entry point so that JSON users never download the MessagePack library.
 *
 * @example
 * ```ts ignore
 * import { HubConnectionBuilder } from "@signalrcore/client";
 * import { MessagePackHubProtocol } from "@signalrcore/client/msgpack";
 *
 * const connection = new HubConnectionBuilder()
 *   .withUrl("http://localhost:5000/chat")
 *   .withHubProtocol(new MessagePackHubProtocol())
 *   .build();
 * ```
 *
 * @module
 */
export {
  type MessagePackExtensionCodec,
  MessagePackHubProtocol,
  type MessagePackOptions,
} from "./src/protocol/msgpack/message_pack_hub_protocol.ts";
