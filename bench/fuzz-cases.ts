import { SeededRng } from '../src/chaos/rng.js';

/**
 * A seeded generator of hostile HTTP/1.1 client input for faultgate's listeners. Case `n` of
 * seed `s` is always the same bytes, so a failure is replayed from its (seed, id) alone.
 */

export type FuzzKind =
  | 'request-line'
  | 'header-syntax'
  | 'control-bytes'
  | 'huge-headers'
  | 'many-headers'
  | 'chunked'
  | 'truncated-body'
  | 'pipelined'
  | 'slow-headers'
  | 'slow-body'
  | 'connect-junk'
  | 'mutation';

export const FUZZ_KINDS: readonly FuzzKind[] = [
  'request-line',
  'header-syntax',
  'control-bytes',
  'huge-headers',
  'many-headers',
  'chunked',
  'truncated-body',
  'pipelined',
  'slow-headers',
  'slow-body',
  'connect-junk',
  'mutation',
];

export interface FuzzCase {
  id: number;
  kind: FuzzKind;
  /** Written in order, `gapMs` apart (slow drips) or at once. */
  parts: Buffer[];
  gapMs: number;
  /** Half-close after the last part (a client that has said all it will say). */
  end: boolean;
  /** Pipelined valid requests: the echo answers exactly these paths, in this order. */
  paths?: string[];
}

/** What the generator needs to know about the proxy under test. */
export interface FuzzTarget {
  /** An allowed `host:port` for CONNECT (a real upstream). */
  connectAuthority: string;
  /** Bytes above `limits.max_header_bytes`. */
  headerOverflow: number;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
const JUNK_BYTES = ['\0', '\r', '\n', ' ', '\t', ':', '\x7f', '\xff', '"', '\x01', '\x0b', ';'];

function valid(rng: SeededRng, path = `/f/${rng.int(0, 999)}`, extra = ''): string {
  const method = rng.pick(METHODS);
  const body = method === 'GET' || method === 'DELETE' ? '' : 'x'.repeat(rng.int(0, 64));
  const length = body === '' && method === 'GET' ? '' : `content-length: ${body.length}\r\n`;
  return `${method} ${path} HTTP/1.1\r\nhost: fuzz.test\r\nx-agent-id: fuzz\r\n${extra}${length}\r\n${body}`;
}

const one = (text: string): Buffer[] => [Buffer.from(text, 'latin1')];

function requestLine(rng: SeededRng): Buffer[] {
  const lines = [
    'GET',
    'GET /',
    'GET / HTTP/1.1 extra',
    'GET  / HTTP/1.1',
    'GET / HTTP/2.0',
    'GET / HTTP/9.9',
    'GET / http/1.1',
    'GET / HTTP/1.',
    'G\0T / HTTP/1.1',
    `${'A'.repeat(rng.int(20, 300))} / HTTP/1.1`,
    'GET http://[::1 HTTP/1.1',
    'GET ftp://fuzz.test/ HTTP/1.1',
    'GET http://user@:80/ HTTP/1.1',
    `GET /${'a'.repeat(rng.int(100, 70_000))} HTTP/1.1`,
    'GET /\x7f HTTP/1.1',
    'GET /a b HTTP/1.1',
    ' GET / HTTP/1.1',
    'PRI * HTTP/2.0',
    'GET * HTTP/1.1',
    'get / HTTP/1.1',
  ];
  return one(`${rng.pick(lines)}\r\nhost: fuzz.test\r\n\r\n`);
}

function headerSyntax(rng: SeededRng): Buffer[] {
  const headers = [
    'no-colon-here',
    'space-before : colon',
    ': empty-name',
    'bad name: value',
    'bad(name): value',
    'x-folded: a\r\n  continued',
    'x-folded: a\r\n\tcontinued',
    'host: a\r\nhost: b',
    'content-length: 5\r\ncontent-length: 6',
    'content-length: -1',
    'content-length: 1e3',
    'content-length: 0x10',
    'content-length: 99999999999999999999999',
    'transfer-encoding: gzip',
    'transfer-encoding: chunked, identity',
    'x-\u00e9t\u00e9: 1',
    'x-a: b\u0000c',
  ];
  return one(valid(rng, undefined, `${rng.pick(headers)}\r\n`));
}

function controlBytes(rng: SeededRng): Buffer[] {
  const base = valid(rng);
  const at = rng.int(0, base.length - 1);
  const junk = Array.from({ length: rng.int(1, 3) }, () => rng.pick(JUNK_BYTES)).join('');
  return one(base.slice(0, at) + junk + base.slice(at));
}

function hugeHeaders(rng: SeededRng, target: FuzzTarget): Buffer[] {
  const size = target.headerOverflow + rng.int(0, 4096);
  return one(valid(rng, undefined, `x-huge: ${'h'.repeat(size)}\r\n`));
}

function manyHeaders(rng: SeededRng): Buffer[] {
  const n = rng.int(200, 3000);
  let extra = '';
  for (let i = 0; i < n; i++) extra += `x-h${i}: ${i}\r\n`;
  return one(valid(rng, undefined, extra));
}

function chunked(rng: SeededRng): Buffer[] {
  const bodies = [
    'zz\r\nabc\r\n0\r\n\r\n',
    '-1\r\nabc\r\n0\r\n\r\n',
    'ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n',
    '3;\0ext\r\nabc\r\n0\r\n\r\n',
    `3;${'e'.repeat(rng.int(100, 20_000))}\r\nabc\r\n0\r\n\r\n`,
    '3 ; a=b\r\nabc\r\n0\r\n\r\n',
    '3\r\nabcdef\r\n0\r\n\r\n',
    '3\nabc\n0\n\n',
    '5\r\nabc\r\n',
    '3\r\nabc\r\n0\r\nbad trailer\r\n\r\n',
    '0x3\r\nabc\r\n0\r\n\r\n',
    '\r\n',
    '3\r\nabc0\r\n\r\n',
  ];
  const head = `POST /chunked HTTP/1.1\r\nhost: fuzz.test\r\ntransfer-encoding: chunked\r\n\r\n`;
  return one(head + rng.pick(bodies));
}

function truncatedBody(rng: SeededRng): Buffer[] {
  const length = rng.int(10, 5000);
  const sent = rng.int(0, length - 1);
  return one(`POST /t HTTP/1.1\r\nhost: fuzz.test\r\ncontent-length: ${length}\r\n\r\n${'b'.repeat(sent)}`);
}

function pipelined(rng: SeededRng): { parts: Buffer[]; paths: string[] } {
  const paths = Array.from({ length: rng.int(2, 6) }, (_, i) => `/p${i}`);
  const text = paths.map((p) => valid(rng, p)).join('');
  // Random split points: the parser must not care where segments end.
  const parts: Buffer[] = [];
  let from = 0;
  while (from < text.length) {
    const to = Math.min(text.length, from + rng.int(1, 200));
    parts.push(Buffer.from(text.slice(from, to), 'latin1'));
    from = to;
  }
  return { parts, paths };
}

function drip(text: string, bytes: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < text.length; i += bytes) parts.push(Buffer.from(text.slice(i, i + bytes), 'latin1'));
  return parts;
}

function connectJunk(rng: SeededRng, target: FuzzTarget): Buffer[] {
  const authority = target.connectAuthority;
  const cases = [
    'CONNECT :80 HTTP/1.1\r\n\r\n',
    'CONNECT fuzz HTTP/1.1\r\n\r\n',
    'CONNECT [::1 HTTP/1.1\r\n\r\n',
    'CONNECT denied.example:443 HTTP/1.1\r\nhost: denied.example:443\r\n\r\n',
    `CONNECT ${authority}/x HTTP/1.1\r\n\r\n`,
    'CONNECT 127.0.0.1:0 HTTP/1.1\r\n\r\n',
    'CONNECT 127.0.0.1:99999 HTTP/1.1\r\n\r\n',
    `CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n\0\0\0junk\r\n\r\n`,
    `CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\nGET / HTTP/1.1\r\nbroken header\r\n\r\n`,
    `CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n\x16\x03\x01\x00\x05hello`,
    `CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\n\r\n`,
  ];
  return one(rng.pick(cases));
}

function mutation(rng: SeededRng): Buffer[] {
  const bytes = Buffer.from(valid(rng, undefined, 'x-tool: search\r\n'), 'latin1');
  for (let n = rng.int(1, 6); n > 0; n--) {
    const at = rng.int(0, bytes.length - 1);
    bytes[at] = rng.int(0, 255);
  }
  return [bytes];
}

/** Case `id` of the stream seeded with `seed`. */
export function fuzzCase(seed: number, id: number, target: FuzzTarget): FuzzCase {
  const rng = new SeededRng((seed * 1_000_003 + id) >>> 0);
  const kind = FUZZ_KINDS[id % FUZZ_KINDS.length]!;
  const base = { id, kind, gapMs: 0, end: rng.next() < 0.5 };
  switch (kind) {
    case 'request-line':
      return { ...base, parts: requestLine(rng) };
    case 'header-syntax':
      return { ...base, parts: headerSyntax(rng) };
    case 'control-bytes':
      return { ...base, parts: controlBytes(rng) };
    case 'huge-headers':
      return { ...base, parts: hugeHeaders(rng, target) };
    case 'many-headers':
      return { ...base, parts: manyHeaders(rng) };
    case 'chunked':
      return { ...base, parts: chunked(rng) };
    case 'truncated-body':
      return { ...base, parts: truncatedBody(rng) };
    case 'pipelined':
      // No half-close: faultgate (like Node and HAProxy's abortonclose) takes a client FIN as
      // the client leaving, and abandons requests not answered yet. The keep-alive timeout ends it.
      return { ...base, ...pipelined(rng), end: false };
    case 'slow-headers':
      // One byte every 100 ms of a long header section: only the headers timeout ends it.
      return {
        ...base,
        parts: drip(`GET /slow HTTP/1.1\r\nhost: fuzz.test\r\nx-pad: ${'s'.repeat(400)}`, 1),
        gapMs: 100,
        end: false,
      };
    case 'slow-body':
      return {
        ...base,
        parts: [
          Buffer.from('POST /slow HTTP/1.1\r\nhost: fuzz.test\r\ncontent-length: 4000\r\n\r\n'),
          ...drip('d'.repeat(400), 4),
        ],
        gapMs: 100,
        end: false,
      };
    case 'connect-junk':
      return { ...base, parts: connectJunk(rng, target) };
    case 'mutation':
      return { ...base, parts: mutation(rng) };
  }
}
