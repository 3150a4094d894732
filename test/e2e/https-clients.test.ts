import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { readAll, scrape } from '../helpers/index.js';
import { peakRss, spawnFaultgate } from '../helpers/process.js';
import { httpsUpstream, interceptingFaultgate, tempDir, trustingAgent } from '../helpers/intercept.js';
import { testPki } from '../helpers/tls.js';
import { metricSum } from '../helpers/wire.js';

const run = promisify(execFile);

const tools = `
tools:
  - { name: api, match: { host: 127.0.0.1 } }
chaos: { header_overrides: true }
`;

/** An environment without inherited proxy or CA variables, plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      !/^(https?_proxy|no_proxy|all_proxy|node_extra_ca_certs|ssl_cert_file|requests_ca_bundle|curl_ca_bundle|node_use_env_proxy)$/i.test(
        k,
      )
    )
      env[k] = v;
  }
  return { ...env, ...extra };
}

async function echoUpstream() {
  return httpsUpstream(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readAll(req);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, agent: req.headers['x-agent-id'] ?? null, bytes: body.length }));
  });
}

describe('real clients through tls: intercept', () => {
  it('curl -x with --cacert gets the upstream answer and injected faults; without the CA it fails cleanly and is counted', async () => {
    const up = await echoUpstream();
    const fg = await interceptingFaultgate({}, tools);
    const caFile = join(fg.caDir, 'ca.pem');
    const env = cleanEnv({});
    const ok = await run(
      'curl',
      ['-sS', '-x', fg.url, '--cacert', caFile, '-H', 'x-agent-id: curl', `${up.url}/c`],
      { env },
    );
    expect(JSON.parse(ok.stdout)).toEqual({ path: '/c', agent: 'curl', bytes: 0 });
    const fault = await run(
      'curl',
      [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-x',
        fg.url,
        '--cacert',
        caFile,
        '-H',
        'x-faultgate-fault: error;status=503',
        `${up.url}/f`,
      ],
      { env },
    );
    expect(fault.stdout).toBe('503');
    // bundle.pem works the way CURL_CA_BUNDLE users will use it.
    const bundled = await run('curl', ['-sS', '-x', fg.url, `${up.url}/b`], {
      env: cleanEnv({ CURL_CA_BUNDLE: join(fg.caDir, 'bundle.pem') }),
    });
    expect(JSON.parse(bundled.stdout).path).toBe('/b');
    // curl verifies inside the handshake and sends an alert: a clean failure, counted as a rejection.
    await expect(run('curl', ['-sS', '-x', fg.url, `${up.url}/u`], { env })).rejects.toMatchObject({
      code: 60,
    });
    const m = await scrape(fg.adminUrl);
    expect(
      metricSum(m, 'faultgate_tls_handshake_failures_total', { reason: 'client_rejected_certificate' }),
    ).toBe(1);
    expect(metricSum(m, 'faultgate_requests_total', { agent: 'curl', tool: 'api', outcome: 'success' })).toBe(
      1,
    );
  });

  it('python requests with HTTPS_PROXY and REQUESTS_CA_BUNDLE=bundle.pem', async () => {
    const up = await echoUpstream();
    const fg = await interceptingFaultgate({}, tools);
    const script = [
      'import json, requests',
      `r = requests.post("${up.url}/py", data=b"x" * 1000, headers={"x-agent-id": "py"}, timeout=10)`,
      'print(json.dumps({"status": r.status_code, "body": r.json()}))',
    ].join('\n');
    const env = cleanEnv({ HTTPS_PROXY: fg.url, REQUESTS_CA_BUNDLE: join(fg.caDir, 'bundle.pem') });
    const { stdout } = await run('/usr/bin/python3', ['-c', script], { env });
    expect(JSON.parse(stdout)).toEqual({ status: 200, body: { path: '/py', agent: 'py', bytes: 1000 } });
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_requests_total', { agent: 'py', tool: 'api', outcome: 'success' })).toBe(
      1,
    );
  });

  it('undici EnvHttpProxyAgent in a child process trusting the CA through NODE_EXTRA_CA_CERTS', async () => {
    const up = await echoUpstream();
    const fg = await interceptingFaultgate({}, tools);
    const file = join(tempDir(), 'client.mjs');
    writeFileSync(
      file,
      `const { EnvHttpProxyAgent, request } = await import(process.env.UNDICI);
const dispatcher = new EnvHttpProxyAgent();
const out = [];
for (const fault of [undefined, 'error;status=503']) {
  const res = await request(process.env.TARGET, { dispatcher, headers: { 'x-agent-id': 'node', ...(fault ? { 'x-faultgate-fault': fault } : {}) } });
  out.push({ status: res.statusCode, body: await res.body.text() });
}
await dispatcher.close();
process.stdout.write(JSON.stringify(out));
`,
    );
    const env = cleanEnv({
      HTTPS_PROXY: fg.url,
      NODE_EXTRA_CA_CERTS: join(fg.caDir, 'ca.pem'),
      UNDICI: join(process.cwd(), 'node_modules/undici/index.js'),
      TARGET: `${up.url}/node`,
    });
    const { stdout } = await run(process.execPath, [file], { env });
    const [first, second] = JSON.parse(stdout) as { status: number; body: string }[];
    expect(first?.status).toBe(200);
    expect(JSON.parse(first!.body)).toEqual({ path: '/node', agent: 'node', bytes: 0 });
    expect(second?.status).toBe(503);
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_requests_total', { agent: 'node', tool: 'api' })).toBe(2);
    expect(
      metricSum(m, 'faultgate_faults_injected_total', { agent: 'node', tool: 'api', fault: 'error' }),
    ).toBe(1);
  });
});

describe('interception streams', () => {
  it('a 256 MB download through interception (a faultgate process) keeps memory flat', async () => {
    // Large enough that a proxy holding the body could not stay under the bound (256 MB body,
    // 96 MB of peak RSS growth: GC lag on a fast machine alone reached 67 MB for 100 MB).
    const SIZE = 256 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024, 0x63);
    const up = await httpsUpstream((_req, res) => {
      res.writeHead(200, { 'content-length': String(SIZE) });
      let sent = 0;
      const pump = () => {
        while (sent < SIZE) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const pki = await testPki();
    const caDir = join(tempDir(), 'ca');
    const fg = await spawnFaultgate(
      `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0", forward: true, tls: intercept, allow_hosts: ["127.0.0.1"] }]
admin: { listen: "127.0.0.1:0" }
ca: { dir: ${JSON.stringify(caDir)} }
upstream: { ca_file: ${JSON.stringify(pki.caFile)} }
log: { level: info }
`,
    );
    const dispatcher = trustingAgent(fg.url, readFileSync(join(caDir, 'ca.pem'), 'utf8'));
    // Warm up (CA, leaf, pools), then measure the growth of the peak over the transfer.
    await (await request(`${up.url}/warm`, { dispatcher, method: 'HEAD' })).body.text();
    const baseline = peakRss(fg.child.pid!);
    const res = await request(`${up.url}/big`, { dispatcher });
    let received = 0;
    for await (const c of res.body) received += (c as Buffer).length;
    expect(received).toBe(SIZE);
    const growth = peakRss(fg.child.pid!) - baseline;
    expect(growth).toBeLessThan(96 * 1024 * 1024);
  }, 60_000);
});
