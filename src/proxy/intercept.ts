import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { Config, ListenerConfig } from '../config/schema.js';
import { ensureCa } from '../tls/ca.js';
import { LeafCertificates } from '../tls/leaf-cache.js';
import { type HandshakeFailure, TlsMetrics } from '../tls/metrics.js';
import { exposedInterceptorMessage, exposedInterceptors } from '../tls/warnings.js';
import type { ProxyEnv, ProxyState } from './context.js';
import { AllowList, rememberTunnel, type TunnelInfo } from './route.js';

/** Bounded: one leaf context per host is a few KiB. */
const MAX_LEAVES = 1000;
/** Hosts already warned about (a rejecting client retries; one line per host is enough). */
const MAX_WARNED_HOSTS = 10_000;
const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,62}\.?)*$/i;

/** Per-instance interception state: the CA's leaf cache (per `ca.dir`), metrics, warned hosts. */
class Interception {
  readonly metrics: TlsMetrics;
  private leaves: { dir: string; cache: Promise<LeafCertificates> } | undefined;
  private readonly warned = new Set<string>();

  constructor(private readonly env: ProxyEnv) {
    this.metrics = new TlsMetrics(env.metrics.registry);
  }

  /** The leaf cache for `dir`; the CA is loaded (or created, and the place logged) once. */
  certificates(dir: string): Promise<LeafCertificates> {
    if (this.leaves?.dir !== dir) {
      const cache = ensureCa(dir).then(({ ca, created }) => {
        if (created) {
          this.env.logger.warn(
            { dir: created.dir, cert: created.cert, bundle: created.bundle },
            'created the interception CA: clients must trust it (NODE_EXTRA_CA_CERTS=ca.pem, or SSL_CERT_FILE / REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE=bundle.pem; faultgate ca init --help)',
          );
        }
        return new LeafCertificates(ca, MAX_LEAVES, () => this.metrics.certificatesIssued.inc());
      });
      // A CA that cannot be read is retried by the next CONNECT rather than cached as failed.
      cache.catch(() => {
        if (this.leaves?.cache === cache) this.leaves = undefined;
      });
      this.leaves = { dir, cache };
    }
    return this.leaves.cache;
  }

  failed(host: string, reason: HandshakeFailure, err: Error | undefined): void {
    this.metrics.handshakeFailures.labels(reason).inc();
    if (this.warned.has(host)) return;
    if (this.warned.size >= MAX_WARNED_HOSTS) this.warned.clear();
    this.warned.add(host);
    const fix =
      reason === 'client_rejected_certificate' || reason === 'closed_before_request'
        ? 'if the client does not trust the faultgate CA: trust it (faultgate ca init prints how) or list the host in tls_passthrough'
        : undefined;
    this.env.logger.warn(
      { host, reason, err: err?.message, ...(fix ? { fix } : {}) },
      reason === 'closed_before_request'
        ? 'TLS interception: the client closed right after the handshake, without a request (logged once per host)'
        : 'TLS interception handshake failed (logged once per host)',
    );
  }
}

const instances = new WeakMap<ProxyEnv, Interception>();

function interception(env: ProxyEnv): Interception {
  let i = instances.get(env);
  if (!i) {
    i = new Interception(env);
    instances.set(env, i);
  }
  return i;
}

/**
 * At start: registers the TLS metrics and, when a listener intercepts, loads or creates the CA
 * so a missing or broken one shows at once (and its creation is logged where it happened).
 */
export async function prepareInterception(env: ProxyEnv, config: Config): Promise<void> {
  const i = interception(env);
  for (const index of exposedInterceptors(config)) {
    const { name, listen } = config.listeners[index]!;
    env.logger.warn({ listener: name }, exposedInterceptorMessage(listen));
  }
  if (config.listeners.some((l) => l.tls === 'intercept')) await i.certificates(config.ca.dir);
}

const passthroughLists = new WeakMap<ListenerConfig, AllowList>();

/** Whether a TLS CONNECT to this target is terminated (else it stays an opaque tunnel). */
export function intercepts(listener: ListenerConfig, hostname: string, port: string): boolean {
  if (listener.tls !== 'intercept') return false;
  if (listener.tls_passthrough.length === 0) return true;
  let list = passthroughLists.get(listener);
  if (!list) {
    list = new AllowList(listener.tls_passthrough);
    passthroughLists.set(listener, list);
  }
  return !list.allows(hostname, port);
}

/** OpenSSL's names for the alerts a client sends when it does not accept the server's certificate. */
function rejectsCertificate(err: Error & { code?: string }): boolean {
  return /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED)/.test(
    err.code ?? '',
  );
}

/**
 * Terminates the client's TLS on a CONNECT socket with a leaf for the SNI name (or the CONNECT
 * host) and hands the decrypted socket to the listener's HTTP server, where its requests take
 * the full path (identity, every fault, tracking) to `https://<CONNECT target>`.
 */
export function interceptTls(
  env: ProxyEnv,
  state: ProxyState,
  server: Server,
  raw: Socket,
  first: Buffer,
  tunnel: Omit<TunnelInfo, 'origin' | 'raw'>,
  host: string,
  allowed: (hostname: string) => boolean,
): void {
  const i = interception(env);
  const { config } = state;
  // Back into the socket's buffer: the TLS layer reads what is buffered before the wire.
  raw.unshift(first);
  i.certificates(config.ca.dir)
    .then((leaves) => leaves.get(host).then((context) => ({ leaves, context })))
    .then(
      ({ leaves, context }) => {
        if (raw.destroyed) return;
        const sni = (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => {
          // A leaf for another name only when that name may be reached too; else the CONNECT
          // host's leaf, which a client that checks names rejects (and that gets counted).
          if (name.toLowerCase() === host || !DNS_NAME.test(name) || !allowed(name.toLowerCase())) {
            cb(null, context);
            return;
          }
          leaves.get(name).then((ctx) => cb(null, ctx), cb);
        };
        terminate(
          config.limits.headers_timeout_ms,
          i,
          server,
          raw,
          context,
          sni,
          { ...tunnel, origin: `https://${tunnel.host}`, raw },
          host,
        );
      },
      (err: Error) => {
        i.failed(host, 'ca_unavailable', err);
        raw.destroy();
      },
    );
}

/** Intercepted sessions that have not carried a request yet. */
const awaitingRequest = new WeakSet<Socket>();
const watchedServers = new WeakSet<Server>();

function watchFirstRequest(server: Server): void {
  if (watchedServers.has(server)) return;
  watchedServers.add(server);
  server.prependListener('request', (req) => awaitingRequest.delete(req.socket));
}

function terminate(
  handshakeTimeoutMs: number,
  i: Interception,
  server: Server,
  raw: Socket,
  context: SecureContext,
  SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void,
  info: TunnelInfo,
  host: string,
): void {
  const tls = new TLSSocket(raw, {
    isServer: true,
    secureContext: context,
    SNICallback,
    ALPNProtocols: ['http/1.1'],
  });
  let secure = false;
  // A client that opens the tunnel and never finishes the handshake must not hold it open.
  const deadline = setTimeout(() => {
    i.failed(host, 'handshake_timeout', undefined);
    tls.destroy();
  }, handshakeTimeoutMs);
  deadline.unref();
  tls.on('error', (err: Error & { code?: string }) => {
    if (secure) return; // the HTTP server handles errors after the handshake
    clearTimeout(deadline);
    i.failed(host, rejectsCertificate(err) ? 'client_rejected_certificate' : 'handshake_error', err);
    tls.destroy();
  });
  // The CONNECT socket is half-open capable, and so is its TLS socket: a client that leaves
  // mid-handshake (as Node clients that reject the leaf do) must close it here.
  tls.once('end', () => {
    if (secure) return;
    clearTimeout(deadline);
    i.failed(host, 'closed_before_request', undefined);
    tls.destroy();
  });
  tls.once('close', () => {
    clearTimeout(deadline);
    // Node's TLS clients check the certificate after the handshake and then just close: a
    // session that ends before its first request is how such a rejection looks from here.
    if (awaitingRequest.has(tls)) i.failed(host, 'closed_before_request', undefined);
  });
  tls.once('secure', () => {
    secure = true;
    clearTimeout(deadline);
    i.metrics.intercepted.inc();
    watchFirstRequest(server);
    awaitingRequest.add(tls);
    rememberTunnel(tls, info);
    // The HTTP server applies its own timeouts to the decrypted socket.
    raw.setTimeout(0);
    server.emit('connection', tls);
  });
}
