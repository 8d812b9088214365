// The hub protocols a TestHub speaks: JSON always, and whatever its options add (MessagePack).
// The protocols come from the user, so that `./testing` imports no MessagePack code itself:
// a JSON user never downloads it.
import type { HubProtocol } from "../protocol/hub_protocol.ts";
import { JsonHubProtocol } from "../protocol/json.ts";

// The newest version of each protocol on ASP.NET Core (`IsVersionSupported`: any version up to
// it); a protocol ASP.NET Core does not know goes up to its own version.
const ASP_NET_CORE_VERSIONS: Readonly<Record<string, number>> = { json: 2, messagepack: 2 };

/** A protocol the hub accepts, and the newest version of it that a client may ask for. */
export interface ServerProtocol {
  readonly protocol: HubProtocol;
  readonly maxVersion: number;
}

/** The protocols of one hub, by name (case-insensitive, as ASP.NET Core's resolver). */
export class Protocols {
  readonly #byName = new Map<string, ServerProtocol>();

  /**
   * @param extra The `protocols` option; one named `json` replaces the built-in JSON protocol.
   * @throws {TypeError} When an entry is not a hub protocol, or two have the same name.
   */
  constructor(extra: readonly HubProtocol[] = []) {
    if (!Array.isArray(extra)) throw new TypeError("protocols must be an array of hub protocols.");
    const given = new Set<string>();
    for (const protocol of extra) {
      check(protocol);
      const key = protocol.name.toLowerCase();
      if (given.has(key)) {
        throw new TypeError(
          `Duplicate hub protocol '${protocol.name}' (names are case-insensitive).`,
        );
      }
      given.add(key);
      this.#add(protocol);
    }
    if (!given.has("json")) this.#add(new JsonHubProtocol());
  }

  /** The protocol a handshake names, if the hub has it. */
  get(name: string): ServerProtocol | undefined {
    return this.#byName.get(name.toLowerCase());
  }

  #add(protocol: HubProtocol): void {
    const known = ASP_NET_CORE_VERSIONS[protocol.name.toLowerCase()] ?? 0;
    this.#byName.set(protocol.name.toLowerCase(), {
      protocol,
      maxVersion: Math.max(known, protocol.version),
    });
  }
}

function check(protocol: HubProtocol): void {
  const valid = typeof protocol === "object" && protocol !== null &&
    typeof protocol.name === "string" && protocol.name.length > 0 &&
    typeof protocol.version === "number" &&
    (protocol.transferFormat === "Text" || protocol.transferFormat === "Binary") &&
    typeof protocol.createDecoder === "function" && typeof protocol.encode === "function";
  if (!valid) {
    throw new TypeError(
      "protocols: each entry must be a hub protocol ({ name, version, transferFormat, " +
        "createDecoder, encode }), e.g. new MessagePackHubProtocol().",
    );
  }
}
