import type { Socket } from 'node:net';
import { Agent } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ChaosEngine } from '../../src/chaos/engine.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { IdentityResolver } from '../../src/identity/index.js';
import { createLogger } from '../../src/observe/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { ProxyEnv, ProxyState } from '../../src/proxy/context.js';
import { ProxyListener } from '../../src/proxy/listener.js';
import { createWsProxy } from '../../src/proxy/upgrade.js';
import { toolTargets } from '../../src/proxy/upstream.js';
import { configYaml, startFaultgate } from '../helpers/index.js';
import { startWsEchoUpstream, WireClient, wsClose, wsEcho, wsHandshake } from '../helpers/wire.js';

function config(yaml: string): Config {
  const r = parseConfig('t.yaml', yaml, {});
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path} ${p.message}`).join('\n'));
  return r.config;
}

function stateOf(c: Config): ProxyState {
  return {
    config: c,
    identity: new IdentityResolver(c),
    toolTargets: toolTargets(c),
    engine: new ChaosEngine(c),
  };
}

describe('WebSocket upgrades', () => {
  it('match tools on the path without its query string, as plain requests do', async () => {
    const listenerUpstream = await startWsEchoUpstream();
    const toolUpstream = await startWsEchoUpstream();
    const fg = await startFaultgate(
      configYaml(
        { upstream: listenerUpstream.url },
        `tools:\n  - name: live\n    match: { path: "/ws" }\n    upstream: ${toolUpstream.url}\n`,
      ),
    );
    const client = await WireClient.connect(fg.port);
    const head = await wsHandshake(client, '/ws?room=1', `127.0.0.1:${fg.port}`);
    expect(head.status).toBe(101);
    expect((await wsEcho(client, 'to the tool')).payload.toString()).toBe('to the tool');
    expect(toolUpstream.handshakes.map((h) => h.url)).toEqual(['/ws?room=1']);
    expect(listenerUpstream.handshakes).toHaveLength(0);
    expect((await wsClose(client)).opcode).toBe(0x8);
  });

  it("use the routing of the listener they arrived on, not the instance's latest config", async () => {
    const oldUpstream = await startWsEchoUpstream();
    const newUpstream = await startWsEchoUpstream();
    const tool = (url: string) =>
      `tools:\n  - name: live\n    match: { path: "/ws" }\n    upstream: ${url}\n`;
    // The instance has moved on (a reload swapped its state, or one is being prepared) while
    // this listener still serves the config it was built with: tool 0 points elsewhere there.
    const latest = stateOf(config(configYaml({}, tool(oldUpstream.url))));
    const own = stateOf(config(configYaml({}, tool(newUpstream.url))));
    const logger = createLogger('silent');
    const env: ProxyEnv = {
      state: () => latest,
      agent: new Agent(),
      metrics: new Metrics(100),
      logger,
      ws: createWsProxy(logger),
      nextRequestId: () => 1,
      tunnels: new Set<Socket>(),
    };
    const listener = new ProxyListener(env, own.config.listeners[0]!, own);
    const addr = await listener.listen();
    onTestFinished(async () => {
      await listener.close(0);
      env.ws.close?.();
      await env.agent.destroy();
    });
    const client = await WireClient.connect(addr.port);
    expect((await wsHandshake(client, '/ws', `127.0.0.1:${addr.port}`)).status).toBe(101);
    expect(newUpstream.handshakes).toHaveLength(1);
    expect(oldUpstream.handshakes).toHaveLength(0);
    expect((await wsClose(client)).opcode).toBe(0x8);
  });
});
