import type { AddressInfo } from 'node:net';
import { type ListenerPlan, planListeners } from '../config/reload.js';
import type { Config, ListenerConfig } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { ProxyEnv, ProxyState } from './context.js';
import { ProxyListener } from './listener.js';
import { compileListener } from './route.js';
import { prepareInterception } from './intercept.js';

export interface BoundAddress {
  name: string;
  host: string;
  port: number;
  /** `http://host:port`, ready for a client. */
  url: string;
}

export function boundAddress(name: string, addr: AddressInfo): BoundAddress {
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return { name, host: addr.address, port: addr.port, url: `http://${host}:${addr.port}` };
}

/** A listen address that a reload could not bind; `path` names the config key. */
export class ListenError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** A reload's listeners, bound but not yet serving the new config. */
export interface ListenerChange {
  state: ProxyState;
  plan: ListenerPlan;
  bound: Map<number, { proxy: ProxyListener; addr: AddressInfo }>;
}

/**
 * The data-plane listeners of an instance: bound at start, reconciled with each reload (kept,
 * bound, or drained), drained at shutdown.
 */
export class ListenerSet {
  /** In config order; the same array for the life of the instance. */
  readonly addresses: BoundAddress[] = [];
  /** Parallel to `addresses`. */
  private readonly proxies: ProxyListener[] = [];
  /** Listeners a reload removed, still draining. */
  private readonly retiring = new Set<ProxyListener>();

  constructor(
    private readonly env: ProxyEnv,
    private readonly logger: Logger,
    /** How long a listener a reload removed may drain. */
    private readonly retireDrainMs: number,
  ) {}

  async bindAll(config: Config): Promise<void> {
    // tls: intercept: the CA is loaded (or created, and where logged) before anything listens.
    await prepareInterception(this.env, config);
    for (const l of config.listeners) {
      const proxy = new ProxyListener(this.env, l);
      this.proxies.push(proxy);
      const addr = await proxy.listen();
      this.addresses.push(boundAddress(l.name, addr));
      this.logListening(l, addr);
    }
  }

  /**
   * Binds the listeners a new config adds or moves, changing nothing that runs. On a failure
   * the ones it bound are closed again and a ListenError names the address.
   */
  async prepare(state: ProxyState): Promise<ListenerChange> {
    const plan = planListeners(
      this.proxies.map((p) => p.config),
      state.config.listeners,
    );
    const bound: ListenerChange['bound'] = new Map();
    for (const [i, l] of state.config.listeners.entries()) {
      if (plan.keep[i] !== undefined) continue;
      const proxy = new ProxyListener(this.env, l, state);
      try {
        bound.set(i, { proxy, addr: await proxy.listen() });
      } catch (err) {
        await this.discard({ state, plan, bound });
        const e = err as NodeJS.ErrnoException;
        throw new ListenError(
          `listeners[${i}].listen`,
          `cannot listen on ${l.listen}: ${e.code ?? e.message}`,
        );
      }
    }
    return { state, plan, bound };
  }

  /** Gives up a prepared change (shutdown began meanwhile). */
  async discard(change: ListenerChange): Promise<void> {
    await Promise.all([...change.bound.values()].map((b) => b.proxy.close(0)));
  }

  /**
   * Synchronous, so no request sees half of it: kept listeners route with the new state from
   * their next request on, new ones join, removed ones stop accepting and drain.
   */
  commit({ state, plan, bound }: ListenerChange): void {
    const proxies: ProxyListener[] = [];
    const addresses: BoundAddress[] = [];
    for (const [i, l] of state.config.listeners.entries()) {
      const kept = plan.keep[i];
      if (kept !== undefined) {
        const proxy = this.proxies[kept]!;
        proxy.update(compileListener(state, l));
        proxies.push(proxy);
        addresses.push({ ...this.addresses[kept]!, name: l.name });
      } else {
        const { proxy, addr } = bound.get(i)!;
        proxies.push(proxy);
        addresses.push(boundAddress(l.name, addr));
        this.logListening(l, addr);
      }
    }
    for (const i of plan.removed) this.retire(this.proxies[i]!);
    this.proxies.splice(0, this.proxies.length, ...proxies);
    this.addresses.splice(0, this.addresses.length, ...addresses);
  }

  private retire(proxy: ProxyListener): void {
    this.retiring.add(proxy);
    this.logger.info({ listener: proxy.config.name, address: proxy.config.listen }, 'listener closing');
    proxy.close(this.retireDrainMs).then(() => this.retiring.delete(proxy));
  }

  /** Every listener (and any still retiring) drains for up to `drainMs`; then the rest is cut. */
  async close(drainMs: number): Promise<void> {
    const proxies = [...this.proxies, ...this.retiring];
    const drained = Promise.all(proxies.map((p) => p.close(drainMs)));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => {
      timer = setTimeout(r, drainMs);
      timer.unref();
    });
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    // A listener a reload removed may have had a longer drain of its own.
    for (const p of proxies) p.dropConnections();
    await drained;
  }

  private logListening(l: ListenerConfig, addr: AddressInfo): void {
    this.logger.info(
      { listener: l.name, address: `${addr.address}:${addr.port}`, mode: describeMode(l) },
      'listening',
    );
  }
}

function describeMode(l: ListenerConfig): string {
  const parts = [];
  if (l.upstream) parts.push(`reverse -> ${l.upstream}`);
  if (l.forward) parts.push(`forward (${l.allow_hosts.length} allowed hosts, tls ${l.tls})`);
  return parts.join(', ') || 'reverse (tool upstreams only)';
}
