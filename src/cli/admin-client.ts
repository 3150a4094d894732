/**
 * The CLI's client of a running instance's admin API (SPEC section 7): the URL from `--admin`
 * or FAULTGATE_ADMIN_URL, the bearer token from FAULTGATE_ADMIN_TOKEN, and errors a person can
 * act on (unreachable, not a faultgate admin API, wrong token, the API's own error with its
 * problems) instead of a status line.
 */
import { CliError, EXIT_FAILED, EXIT_USAGE, UsageError } from './command.js';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9090';
const FETCH_TIMEOUT_MS = 15_000;

/** The `--admin` option every admin verb takes. */
export const adminOption = { admin: { type: 'string' } } as const;

export const adminHelp = `  --admin URL     admin API of a running faultgate (default ${DEFAULT_ADMIN_URL}; FAULTGATE_ADMIN_URL)`;
export const tokenHelp = 'FAULTGATE_ADMIN_TOKEN, when set, is sent as the bearer token.';

/** The admin base URL as a directory URL, keeping a path prefix (an admin API behind an ingress). */
export function adminBase(admin: string | undefined, env: NodeJS.ProcessEnv): URL {
  const raw = admin ?? (env.FAULTGATE_ADMIN_URL || DEFAULT_ADMIN_URL);
  let base: URL;
  try {
    base = new URL(raw.endsWith('/') ? raw : `${raw}/`);
  } catch {
    throw new UsageError(`--admin "${raw}" is not a URL (expected e.g. ${DEFAULT_ADMIN_URL})`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new UsageError(`--admin "${raw}" must be an http:// or https:// URL`);
  return base;
}

interface FaultgateErrorBody {
  error: { code: string; message: string; source?: string; problems?: { path: string; message: string }[] };
}

function faultgateError(data: unknown): FaultgateErrorBody['error'] | undefined {
  const e = (data as Partial<FaultgateErrorBody> | null)?.error;
  return e && typeof e === 'object' && typeof e.code === 'string' && e.code.startsWith('FAULTGATE_ERR_')
    ? e
    : undefined;
}

export class AdminClient {
  constructor(
    readonly base: URL,
    private readonly token: string | undefined,
  ) {}

  static from(admin: string | undefined, env: NodeJS.ProcessEnv): AdminClient {
    return new AdminClient(adminBase(admin, env), env.FAULTGATE_ADMIN_TOKEN || undefined);
  }

  /**
   * One request, answered JSON parsed. A faultgate error answer becomes a CliError (exit 1)
   * with the code, message and every problem; anything that is not faultgate speaking is exit 2.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.base);
    const text = await this.fetchText(method, url, body);
    let data: unknown;
    try {
      data = JSON.parse(text.body);
    } catch {
      throw this.notFaultgate(text.status, url);
    }
    if (text.status >= 200 && text.status < 300) return data as T;
    const error = faultgateError(data);
    if (!error) throw this.notFaultgate(text.status, url);
    const hint = text.status === 401 ? ' (set FAULTGATE_ADMIN_TOKEN to the admin token)' : '';
    const problems = (error.problems ?? []).map((p) => `\n  ${p.path}  ${p.message}`).join('');
    // A config reload's message already lists its problems, one per line.
    const detail = error.message.includes('\n') ? error.message : `${error.message}${problems}`;
    throw new CliError(
      `the admin API at ${this.base.origin} answered ${text.status}: ${error.code}: ${detail}${hint}`,
      text.status === 401 ? EXIT_USAGE : EXIT_FAILED,
    );
  }

  private notFaultgate(status: number, url: URL): CliError {
    return new CliError(`that is not a faultgate admin API (HTTP ${status} from ${url.href})`, EXIT_USAGE);
  }

  private async fetchText(
    method: string,
    url: URL,
    body: unknown,
  ): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === 'TimeoutError'
          ? `no answer in ${FETCH_TIMEOUT_MS / 1000} s`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new CliError(
        `cannot reach the faultgate admin API at ${url.origin} (${why}): is the proxy running? Set --admin or FAULTGATE_ADMIN_URL`,
        EXIT_USAGE,
      );
    }
    return { status: res.status, body: await res.text() };
  }
}
