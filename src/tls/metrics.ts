import { Counter, type Registry } from 'prom-client';

export type HandshakeFailure =
  | 'client_rejected_certificate'
  | 'closed_before_request'
  | 'handshake_error'
  | 'handshake_timeout'
  | 'ca_unavailable';
const reasons: readonly HandshakeFailure[] = [
  'client_rejected_certificate',
  'closed_before_request',
  'handshake_error',
  'handshake_timeout',
  'ca_unavailable',
];

/** TLS interception counters, on the instance's own registry (documented in docs/metrics.md). */
export class TlsMetrics {
  readonly handshakeFailures: Counter<'reason'>;
  readonly certificatesIssued: Counter;
  readonly intercepted: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.handshakeFailures = new Counter({
      name: 'faultgate_tls_handshake_failures_total',
      help: 'Intercepted CONNECTs that failed on the client side, by reason (client_rejected_certificate: a TLS alert refusing the leaf; closed_before_request: closed right after the handshake, as Node clients that reject the leaf do)',
      labelNames: ['reason'],
      registers,
    });
    // Every series exists from the start, so an alert on a rejection works before the first one.
    for (const r of reasons) this.handshakeFailures.labels(r).inc(0);
    this.certificatesIssued = new Counter({
      name: 'faultgate_tls_certificates_issued_total',
      help: 'Leaf certificates generated for intercepted hosts (a cached host issues none)',
      registers,
    });
    this.intercepted = new Counter({
      name: 'faultgate_tls_intercepted_total',
      help: 'CONNECT tunnels whose TLS faultgate terminated (handshake completed)',
      registers,
    });
  }
}
