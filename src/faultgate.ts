import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ChaosEngine } from './chaos/engine.js';
import { createAdminServer, isLoopback, listenOn } from './admin/server.js';
import type { Config } from './config/schema.js';
import { FaultgateError } from './errors.js';
import { IdentityResolver } from './identity/index.js';
import { createLogger, type Logger } from './observe/logger.js';
import { Metrics } from './observe/metrics.js';
import type { Report } from './observe/report-model.js';
import { RecoveryTracker } from './observe/tracker.js';
import { type ProxyEnv, ProxyListener, type ProxyState, toolTargets } from './proxy/listener.js';
import { createWsProxy } from './proxy/upgrade.js';
import { createUpstreamAgent } from './proxy/upstream.js';

export interface StartOptions {
  logger?: Logger;
}

export interface BoundAddress {
  name: string;
  host: string;
  port: number;
  /** `http://host:port`, ready for a client. */
  url: string;
}

function urlOf(addr: AddressInfo): string {
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host}:${addr.port}`;
}

/** One running faultgate: its listeners, admin server, upstream pools, metrics and logger. */
export class Faultgate {
  readonly listeners: BoundAddress[] = [];
  admin!: BoundAddress;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The recovery tracker (incidents, MTTR, availability), unless `tracking.enabled` is false. */
  readonly tracker: RecoveryTracker | undefined;
  private readonly configHash: string;
  private readonly proxies: ProxyListener[] = [];
  private readonly adminServer: Server;
  private readonly env: ProxyEnv;
  private state: ProxyState;
  private ready = false;
  private closing: Promise<void> | undefined;

  private constructor(config: Config, options: StartOptions) {
    if (!isLoopback(config.admin.listen) && config.admin.token === '') {
      throw new FaultgateError(
        'FAULTGATE_ERR_CONFIG',
        `admin.listen ${config.admin.listen} is not a loopback address and admin.token is empty: set a token or listen on 127.0.0.1`,
      );
    }
    this.logger = options.logger ?? createLogger(config.log.level);
    this.metrics = new Metrics(config.limits.max_label_values);
    this.configHash = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
    this.tracker = config.tracking.enabled
      ? new RecoveryTracker({
          slos: config.slos,
          tools: config.tools,
          maxLabelValues: config.limits.max_label_values,
          registry: this.metrics.registry,
          labelCaps: { agents: this.metrics.agents, tools: this.metrics.tools },
        })
      : undefined;
    this.state = {
      config,
      identity: new IdentityResolver(config),
      toolTargets: toolTargets(config),
      engine: new ChaosEngine(config),
    };
    let requestId = 0;
    this.env = {
      state: () => this.state,
      agent: createUpstreamAgent(config.upstream),
      metrics: this.metrics,
      logger: this.logger,
      ws: createWsProxy(this.logger),
      nextRequestId: () => ++requestId,
      tunnels: new Set<Socket>(),
      outcomes: this.tracker,
    };
    this.adminServer = createAdminServer({
      metrics: this.metrics,
      ready: () => this.ready && !this.closing,
      ...(this.tracker ? { report: () => this.report()! } : {}),
    });
  }

  static async start(config: Config, options: StartOptions = {}): Promise<Faultgate> {
    const fg = new Faultgate(config, options);
    try {
      await fg.bind();
    } catch (err) {
      await fg.close();
      throw err;
    }
    return fg;
  }

  private async bind(): Promise<void> {
    const { config } = this.state;
    for (const l of config.listeners) {
      if (l.tls === 'intercept') {
        this.logger.warn(
          { listener: l.name },
          'tls: intercept is not implemented yet; TLS CONNECT tunnels are piped as in tunnel mode',
        );
      }
      const proxy = new ProxyListener(this.env, l);
      this.proxies.push(proxy);
      const addr = await proxy.listen();
      this.listeners.push({ name: l.name, host: addr.address, port: addr.port, url: urlOf(addr) });
      this.logger.info(
        { listener: l.name, address: `${addr.address}:${addr.port}`, mode: describeMode(l) },
        'listening',
      );
    }
    const addr = await listenOn(this.adminServer, config.admin.listen);
    this.admin = { name: 'admin', host: addr.address, port: addr.port, url: urlOf(addr) };
    this.logger.info({ address: `${addr.address}:${addr.port}` }, 'admin listening');
    this.ready = true;
  }

  /** The recovery report (SPEC section 8); undefined when tracking is off. */
  report(): Report | undefined {
    return this.tracker?.report({ seed: this.state.engine.seed, configHash: this.configHash });
  }

  listener(name: string): BoundAddress {
    const l = this.listeners.find((x) => x.name === name);
    if (!l) throw new Error(`no listener named ${name}`);
    return l;
  }

  /** Stops accepting, lets in-flight requests finish for up to `drainMs`, then cuts the rest. */
  close(drainMs = 10_000): Promise<void> {
    this.closing ??= this.shutdown(drainMs);
    return this.closing;
  }

  private async shutdown(drainMs: number): Promise<void> {
    const servers = [...this.proxies.map((p) => p.server), this.adminServer];
    const closed = Promise.all(
      servers.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))),
    );
    for (const s of servers) s.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => {
      timer = setTimeout(r, drainMs);
      timer.unref();
    });
    await Promise.race([closed, deadline]);
    clearTimeout(timer);
    for (const s of servers) s.closeAllConnections();
    for (const t of this.env.tunnels) t.destroy();
    this.env.ws.close?.();
    await closed;
    await this.env.agent.destroy();
    this.tracker?.close();
    this.logger.flush?.();
  }
}

function describeMode(l: Config['listeners'][number]): string {
  const parts = [];
  if (l.upstream) parts.push(`reverse -> ${l.upstream}`);
  if (l.forward) parts.push(`forward (${l.allow_hosts.length} allowed hosts, tls ${l.tls})`);
  return parts.join(', ') || 'reverse (tool upstreams only)';
}
