import type { IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Transform } from 'node:stream';
import type { Decision } from '../chaos/engine.js';
import type { CompiledExperiment } from '../chaos/experiment.js';
import type { PreAction } from '../faults/types.js';
import { compileHostPattern, normalizeAddress, proxyUserFrom, UNMATCHED } from '../identity/index.js';
import type { ExchangeOutcome } from '../observe/outcome.js';
import type { ProxyEnv, ProxyState } from './context.js';
import { type TunnelFacts, TunnelRun, tunnelFaultTypes } from './tunnel-run.js';
import { classifyUpstreamError } from './upstream.js';

type FailureKind = NonNullable<ExchangeOutcome['failure']>;
type HostMatcher = { name: string; matches: (hostname: string, port: string) => boolean };
const hostTables = new WeakMap<ProxyState, HostMatcher[]>();

/**
 * The tool of an opaque tunnel: the first tool (config order) whose `host` matcher matches the
 * CONNECT target. Its other matchers (path, methods, headers, MCP) need the requests inside,
 * which faultgate cannot read, so they are ignored; a tool without `host` never claims a tunnel.
 * Compiled once per config load.
 */
export function tunnelTool(state: ProxyState, hostname: string, port: string): string {
  let table = hostTables.get(state);
  if (!table) {
    table = state.config.tools
      .filter((t) => t.match.host !== undefined)
      .map((t) => ({ name: t.name, matches: compileHostPattern(t.match.host!) }));
    hostTables.set(state, table);
  }
  for (const t of table) if (t.matches(hostname, port)) return t.name;
  return UNMATCHED;
}

/**
 * An opaque (TLS) tunnel to `host:port` with connection-level faults: the CONNECT target names
 * the tool, the chaos engine decides as for a request, and `latency` (before the upstream is
 * dialled), `reset`, `close`, `timeout` and `bandwidth` act on the tunnel. Other fired types are
 * skipped with a counted reason. The tunnel is one exchange for metrics and the tracker: a
 * success once upstream bytes reach the client, a failure when faultgate (or the upstream) broke it.
 */
export function openTunnel(
  env: ProxyEnv,
  state: ProxyState,
  req: IncomingMessage,
  client: Socket,
  first: Buffer,
  hostname: string,
  port: string,
): void {
  const peer = {
    headers: req.headers,
    proxyUser: proxyUserFrom(req.headers['proxy-authorization']),
    remoteAddress: normalizeAddress(client.remoteAddress),
  };
  const facts: TunnelFacts = {
    requestId: env.nextRequestId(),
    agent: state.identity.agent(peer),
    tenant: state.identity.tenant(peer),
    tool: tunnelTool(state, hostname, port),
    authority: `${hostname}:${port}`,
    headers: req.headers,
  };
  const tunnel = new Tunnel(env, state, facts, client, first, hostname.replace(/^\[|\]$/g, ''), Number(port));
  // The CONNECT's own x-faultgate-fault, when overrides are on, as for a request.
  const override = state.config.chaos.header_overrides ? req.headers['x-faultgate-fault'] : undefined;
  const verdict = state.engine.decide(facts.agent, facts.tenant, facts.tool, override);
  const decision = verdict.kind === 'faults' ? verdict : undefined;
  if (verdict.kind === 'refuse') {
    // A malformed override on a CONNECT cannot be answered with a 400 any more (200 went out).
    env.logger.warn({ target: facts.authority }, 'malformed x-faultgate-fault on CONNECT ignored');
  }
  const fired = decision ? applicable(env, decision.fired) : [];
  const cap = state.config.safety.max_active_faults;
  if (fired.length > 0 && cap > 0 && env.metrics.faults.activeCount() >= cap) {
    for (const exp of fired) env.metrics.faults.overflow(exp.name, exp.type);
    tunnel.open([]);
    return;
  }
  if (fired.length === 0 || !decision) {
    tunnel.open([]);
    return;
  }
  tunnel.chaos(decision, fired).catch((err: Error) => {
    env.logger.error({ reqId: facts.requestId, err: err.message }, 'tunnel fault failed');
    client.destroy();
  });
}

const SKIP_REASON = 'opaque tunnel: connection-level faults only';

function applicable(env: ProxyEnv, fired: readonly CompiledExperiment[]): CompiledExperiment[] {
  const out: CompiledExperiment[] = [];
  for (const exp of fired) {
    if (tunnelFaultTypes.has(exp.type)) out.push(exp);
    else env.metrics.faults.skipped(exp.name, exp.type, SKIP_REASON);
  }
  return out;
}

/** One opaque tunnel: the client socket, the upstream once dialled, and its single outcome. */
class Tunnel {
  private run: TunnelRun | undefined;
  private settled = false;
  /** A fault may still break the tunnel after its first bytes (reset mid-stream). */
  private breaksLater = false;
  private readonly startedAt = performance.now();
  private readonly startedEpoch = performance.timeOrigin + this.startedAt;

  constructor(
    private readonly env: ProxyEnv,
    private readonly state: ProxyState,
    private readonly facts: TunnelFacts,
    private readonly client: Socket,
    private readonly first: Buffer,
    private readonly host: string,
    private readonly port: number,
  ) {
    // A hung tunnel the client gives up on is the timeout's failure; otherwise the client left first.
    client.once('close', () => this.settle(false, this.run?.hanging ? 'transport' : 'client_abort'));
  }

  async chaos(decision: Decision, fired: CompiledExperiment[]): Promise<void> {
    const run = new TunnelRun(this.env, this.facts, this.client, decision, fired, (how) => {
      this.settle(false, 'transport');
      if (how === 'reset') this.client.resetAndDestroy();
      else this.client.destroy();
    });
    this.run = run;
    const transforms: Transform[] = [];
    for (const exp of fired) {
      const ctx = run.context(exp);
      const action = exp.fault.request ? await exp.fault.request(ctx) : undefined;
      if (run.clientGone) return;
      if (run.sessionAborted) break;
      if (action) {
        run.record(exp);
        if (action.kind !== 'continue') {
          this.answer(run, action);
          return;
        }
      }
      if (!exp.fault.response) continue;
      const effect = await exp.fault.response(ctx, { status: 200, statusMessage: undefined, headers: {} });
      if (run.clientGone) return;
      if (run.sessionAborted) break;
      if (!effect) continue;
      run.record(exp);
      if (effect.stream) transforms.push(effect.stream);
      if (effect.failure) this.breaksLater = true;
    }
    this.open(run.sessionAborted ? [] : transforms);
  }

  /** A request-phase answer: nothing reaches the upstream. A 504 cannot be said in a TLS stream: close. */
  private answer(run: TunnelRun, action: Exclude<PreAction, { kind: 'continue' }>): void {
    if (action.kind === 'hang') {
      // Held until the client gives up (or the session aborts, or shutdown); then a failure.
      run.hanging = true;
      this.client.resume();
      return;
    }
    this.settle(false, 'transport');
    if (action.kind === 'reset') this.client.resetAndDestroy();
    else this.client.destroy();
  }

  /** Dials the upstream and pipes both ways; `transforms` pace or cut the upstream's bytes. */
  open(transforms: Transform[]): void {
    const { env, client, host, port } = this;
    if (client.destroyed) return;
    const { connect_timeout_ms } = this.state.config.upstream;
    let upstream: Socket;
    try {
      upstream = netConnect({ host, port, noDelay: true });
    } catch (err) {
      env.logger.warn({ target: `${host}:${port}`, err: (err as Error).message }, 'tunnel connect refused');
      this.settle(false, 'transport');
      client.destroy();
      return;
    }
    upstream.setTimeout(connect_timeout_ms, () =>
      upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })),
    );
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      upstream.write(this.first);
      client.pipe(upstream);
      let source: NodeJS.ReadableStream = upstream;
      for (const t of transforms) {
        t.on('error', () => client.destroy());
        source = source.pipe(t);
      }
      source.pipe(client);
      // Once the upstream's end (after the last paced byte) reached the client, the tunnel has
      // nothing left to carry: close it rather than wait for the client's FIN.
      client.once('finish', () => client.destroy());
      client.resume();
      if (!this.breaksLater) upstream.once('data', () => this.settle(true, 'transport'));
    });
    upstream.on('error', (err) => {
      const failure = classifyUpstreamError(err);
      env.metrics.upstreamError(this.facts.tool, failure.kind);
      env.logger.warn(
        { target: `${host}:${port}`, code: failure.code, err: err.message },
        'tunnel upstream failure',
      );
      this.settle(false, 'transport');
      client.destroy();
    });
    upstream.on('close', () => {
      // An upstream that answered and then ended the tunnel: a success (unless a fault broke it first).
      this.settle(upstream.bytesRead > 0, 'transport');
      // A clean end travels down the pipe (the client gets its FIN after the last paced byte);
      // anything else cuts the client at once.
      if (!upstream.readableEnded) {
        for (const t of transforms) t.destroy();
        client.destroy();
      }
    });
    client.on('close', () => upstream.destroy());
  }

  /** Records the tunnel's one outcome (metrics, tracker), then releases its faults. */
  private settle(success: boolean, kind: FailureKind): void {
    if (this.settled) return;
    this.settled = true;
    const { env, facts } = this;
    const run = this.run;
    const injected = run !== undefined && run.injectedTypes.length > 0;
    const stats = env.metrics.exchange(facts.agent, facts.tool);
    if (injected) (success ? stats.injectedSuccess : stats.injectedFailure).inc();
    else (success ? stats.success : stats.failure).inc();
    const elapsed = performance.now() - this.startedAt;
    stats.duration.observe(elapsed / 1000);
    if (!success && !this.breaksLater) run?.end();
    env.outcomes?.observe({
      agent: facts.agent,
      tenant: facts.tenant,
      tool: facts.tool,
      method: 'CONNECT',
      path: facts.authority,
      bodyKey: '',
      startedAt: this.startedEpoch,
      endedAt: this.startedEpoch + elapsed,
      status: success ? 200 : 0,
      success,
      ...(success ? {} : { failure: kind }),
      injected: run ? run.injectedTypes : [],
      brokenByFault: false,
    });
  }
}
