/**
 * What `faultgate start` prints for a person on a terminal: where each listener is and what it
 * does, the exact lines to point an agent at it, the experiments armed, the admin and metrics
 * URLs, and how to stop chaos. Machines get none of it (JSON logs only).
 */
import type { Faultgate } from '../faultgate.js';

export interface ScreenInput {
  fg: Faultgate;
  version: string;
  configFile: string;
  /** The built-in echo upstream, when the bundled example runs. */
  example?: { upstream: string; tryPath: string };
}

const DEFAULT_ADMIN = 'http://127.0.0.1:9090';

function listenerLines(input: ScreenInput): string[] {
  const { fg, example } = input;
  const lines: string[] = [];
  const width = Math.max(...fg.listeners.map((l) => l.name.length));
  fg.config.listeners.forEach((l, i) => {
    const bound = fg.listeners[i];
    if (!bound) return;
    const does: string[] = [];
    if (l.upstream) {
      const echo = example && l.upstream === example.upstream ? ' (the built-in echo upstream)' : '';
      does.push(`reverse proxy to ${l.upstream}${echo}`);
    }
    if (l.forward) {
      const hosts = l.allow_hosts.length > 0 ? l.allow_hosts.join(', ') : 'no host yet (set allow_hosts)';
      does.push(`HTTP_PROXY for ${hosts}`);
    }
    if (does.length === 0) does.push('reverse proxy to the tools’ own upstreams');
    lines.push(`  ${l.name.padEnd(width)}  ${bound.url}  ${does.join('; ')}`);
  });
  return lines;
}

function pointLines(input: ScreenInput): string[] {
  const { fg } = input;
  const lines: string[] = [];
  const forward = fg.config.listeners.findIndex((l) => l.forward);
  if (forward !== -1) {
    const url = fg.listeners[forward]!.url;
    lines.push(`  HTTP_PROXY=${url} HTTPS_PROXY=${url} NODE_USE_ENV_PROXY=1 your-agent`);
  }
  const reverse = fg.config.listeners.findIndex((l) => l.upstream);
  if (reverse !== -1) {
    const url = fg.listeners[reverse]!.url;
    lines.push(
      `  base URL ${url} in place of ${fg.config.listeners[reverse]!.upstream} (e.g. OPENAI_BASE_URL=${url}/v1)`,
    );
  }
  if (input.example && reverse !== -1)
    lines.push(`  try it: curl -si ${fg.listeners[reverse]!.url}${input.example.tryPath}`);
  return lines;
}

function experimentLines(fg: Faultgate): string[] {
  const { experiments, chaos } = fg.config;
  const head = `Chaos: level ${chaos.level}${chaos.seed === undefined ? '' : `, seed ${chaos.seed}`}`;
  if (experiments.length === 0) return [`${head}; no experiment armed (add some, or create a session)`];
  const width = Math.max(...experiments.map((e) => e.name.length));
  return [
    `${head}; experiments armed (session "default"):`,
    ...experiments.map((e) => {
      const tools = e.target.tools.join(', ');
      const p =
        e.probability === undefined
          ? `${0.1 * chaos.level} (no probability: 0.1 x level)`
          : String(e.probability);
      return `  ${e.name.padEnd(width)}  ${e.type.padEnd(13)} tools ${tools}, probability ${p}`;
    }),
  ];
}

export function startupScreen(input: ScreenInput): string {
  const { fg } = input;
  const admin = fg.admin.url;
  const adminFlag = admin === DEFAULT_ADMIN ? '' : ` --admin ${admin}`;
  const lines = [
    `faultgate ${input.version}: chaos proxy for AI agents (config ${input.configFile})`,
    '',
    'Listening:',
    ...listenerLines(input),
    '',
    'Point an agent at it:',
    ...pointLines(input),
    '',
    ...experimentLines(fg),
    '',
    `Admin API  ${admin}/api/v1  (report: faultgate report${adminFlag})`,
    `Metrics    ${admin}/metrics`,
    `Stop chaos: faultgate abort-all${adminFlag}  (or faultgate level 0${adminFlag}); stop faultgate: Ctrl-C`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}
