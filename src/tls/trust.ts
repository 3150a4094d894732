import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { CaFiles } from './ca.js';

/** Shell-quotes a path for the printed commands (paths with spaces or quotes stay copy-pastable). */
function q(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/**
 * How to make clients trust the CA. NODE_EXTRA_CA_CERTS adds to Node's roots; the other three
 * replace the whole store, so they point at bundle.pem (system roots + the faultgate CA).
 */
export function trustInstructions(files: CaFiles): string {
  const cert = q(files.cert);
  const bundle = q(files.bundle);
  return `faultgate interception CA (for testing only; never trust it on a machine you care about)
  certificate: ${files.cert}
  private key: ${files.key}   (mode 0600; never share it)
  bundle:      ${files.bundle}   (system roots + this CA)

Trust it in the agent's environment:
  export NODE_EXTRA_CA_CERTS=${cert}     # Node.js (adds to its roots)
  export SSL_CERT_FILE=${bundle}         # OpenSSL-based tools, Python ssl, Go, Ruby
  export REQUESTS_CA_BUNDLE=${bundle}    # Python requests
  export CURL_CA_BUNDLE=${bundle}        # curl
  export HTTPS_PROXY=http://127.0.0.1:8080 HTTP_PROXY=http://127.0.0.1:8080 NODE_USE_ENV_PROXY=1

Or system-wide (remove it again when you are done):
  Debian/Ubuntu: sudo cp ${cert} /usr/local/share/ca-certificates/faultgate-ca.crt && sudo update-ca-certificates
  macOS:         sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${cert}
`;
}

/**
 * The TLS context for upstream connections with `upstream.ca_file`: Node's roots plus that CA,
 * built once. Passing `ca` to every `tls.connect` instead parses all ~140 roots again for each
 * upstream connection (37 ms of CPU measured on this machine), which every new intercepted
 * host and every pool growth paid.
 */
export function upstreamTrust(caFile: string): SecureContext {
  return createSecureContext({ ca: [...rootCertificates, readFileSync(caFile, 'utf8')] });
}
