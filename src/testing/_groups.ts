// Group membership: which connections are in which group.
import type { TestHubGroup } from "./test_hub_client.ts";

/** A member of a group: anything with an id that can be sent to. */
export interface GroupMember {
  readonly id: string;
  send(method: string, ...args: unknown[]): Promise<void>;
}

/** Every group of a hub. */
export class Groups<M extends GroupMember> {
  readonly #groups = new Map<string, Set<M>>();
  readonly #find: (connectionId: string) => M;

  /** @param find Looks a connection up; throws for an unknown id. */
  constructor(find: (connectionId: string) => M) {
    this.#find = find;
  }

  add(member: M, group: string): void {
    let members = this.#groups.get(group);
    if (!members) this.#groups.set(group, members = new Set());
    members.add(member);
  }

  remove(member: M, group: string): void {
    const members = this.#groups.get(group);
    if (!members) return;
    members.delete(member);
    if (members.size === 0) this.#groups.delete(group);
  }

  /** Removes a connection from every group (it disconnected). */
  removeEverywhere(member: M): void {
    for (const group of this.of(member)) this.remove(member, group);
  }

  /** The groups a connection is in. */
  of(member: M): string[] {
    const groups: string[] = [];
    for (const [name, members] of this.#groups) if (members.has(member)) groups.push(name);
    return groups;
  }

  /** The connections of a group. */
  members(group: string): M[] {
    return [...(this.#groups.get(group) ?? [])];
  }

  /** The public handle of one group. */
  handle(name: string): TestHubGroup {
    const members = (): M[] => this.members(name);
    const find = this.#find;
    return {
      name,
      get connections(): readonly string[] {
        return members().map((member) => member.id);
      },
      send: async (method, ...args) => {
        await Promise.all(members().map((member) => member.send(method, ...args)));
      },
      add: (connectionId) => this.add(find(connectionId), name),
      remove: (connectionId) => this.remove(find(connectionId), name),
    };
  }
}
