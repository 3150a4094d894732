/** A compiled string matcher: exact strings never touch a RegExp. */
export type StringMatcher = (value: string) => boolean;

const special = /[.+^${}()|[\]\\]/g;

/**
 * Path globs: `*` one segment, `**` any number of segments, `?` one character. A trailing `/**`
 * also matches the bare prefix (`/v1/**` matches `/v1`), as in Ant-style and gitignore globs.
 */
export function compilePathGlob(glob: string): StringMatcher {
  if (!/[*?]/.test(glob)) return (path) => path === glob;
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '/' && glob.startsWith('/**', i) && (i + 3 === glob.length || glob[i + 3] === '/')) {
      source += '(?:/.*)?';
      i += 2;
    } else if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i += 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(special, '\\$&');
  }
  const re = new RegExp(`^${source}$`);
  return (path) => re.test(path);
}

/**
 * The leading segments of a path glob that are either literal or a whole-segment `*`, which
 * every matching path must have (`/v1/chat/*` -> [v1, chat, *], `/v1/**` -> [v1], `/**` -> []).
 * Used to index tools by path without running their globs.
 */
export function pathIndexPrefix(glob: string): string[] {
  const prefix: string[] = [];
  for (const segment of glob.slice(1).split('/')) {
    if (segment !== '*' && /[*?]/.test(segment)) break;
    prefix.push(segment);
  }
  return prefix;
}

/**
 * The last segment of a path glob when it is literal and the index prefix does not reach it
 * (`/v1/**` then `/items` -> items): every matching path ends with
 * `/<segment>`, so tools behind a `**` can still be indexed by the request's last segment.
 */
export function pathIndexSuffix(glob: string): string | undefined {
  const segments = glob.slice(1).split('/');
  const last = segments[segments.length - 1]!;
  if (/[*?]/.test(last)) return undefined;
  return pathIndexPrefix(glob).length < segments.length ? last : undefined;
}

/** Value globs (header values, agent and tool names): `*` matches any run of characters. */
export function compileValueGlob(glob: string): StringMatcher {
  if (glob === '*') return () => true;
  if (!glob.includes('*')) return (value) => value === glob;
  const re = new RegExp(
    `^${glob
      .split('*')
      .map((part) => part.replace(special, '\\$&').replace(/\?/g, '\\?'))
      .join('.*')}$`,
    's',
  );
  return (value) => re.test(value);
}

/** Splits `host[:port]`, `[v6]:port` into a lower-case hostname and a port string ('' if none). */
export function splitHost(host: string): { hostname: string; port: string } {
  const h = host.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return { hostname: h.slice(0, end + 1), port: h[end + 1] === ':' ? h.slice(end + 2) : '' };
  }
  const colon = h.lastIndexOf(':');
  if (colon === -1 || h.indexOf(':') !== colon) return { hostname: h, port: '' };
  return { hostname: h.slice(0, colon), port: h.slice(colon + 1) };
}

/**
 * Host patterns: `api.openai.com` (any port), `api.openai.com:8443` (that port only),
 * `*.openai.com` (any subdomain, not the bare domain).
 */
export function compileHostPattern(pattern: string): (hostname: string, port: string) => boolean {
  const split = splitHost(pattern);
  // Requests carry IPv6 literals in brackets (`[::1]:8080`); accept a bare `::1` pattern too.
  const want =
    split.hostname.includes(':') && !split.hostname.startsWith('[') ? `[${split.hostname}]` : split.hostname;
  const wantPort = split.port;
  const portOk = (port: string) => wantPort === '' || port === wantPort;
  if (want.startsWith('*.')) {
    const suffix = want.slice(1);
    return (hostname, port) => hostname.length > suffix.length && hostname.endsWith(suffix) && portOk(port);
  }
  return (hostname, port) => hostname === want && portOk(port);
}
