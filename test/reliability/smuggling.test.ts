import { afterAll, describe, expect, it } from 'vitest';
import { exchange, parseResponses } from '../../bench/fuzz-run.js';
import { configYaml, startFaultgate } from '../helpers/index.js';
import { type MatrixRow, writeMatrix } from '../helpers/matrix.js';
import { startRawUpstream } from '../helpers/raw-upstream.js';

/**
 * Request smuggling: each ambiguous request is followed on the same connection by a plain one
 * and carries a whole request in its body. Whatever faultgate decides (reject, or read it one
 * way and re-frame it), the upstream, a strict parser recording its bytes, must see exactly the
 * request boundaries faultgate answered, also on the reused upstream connection.
 */

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n';
const NEXT = 'GET /second HTTP/1.1\r\nhost: fuzz.test\r\n\r\n';
const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n0\r\n\r\n`;
const post = (headers: string, body: string) =>
  `POST /first HTTP/1.1\r\nhost: fuzz.test\r\n${headers}\r\n${body}`;

const CASES: [string, string][] = [
  [
    'CL then TE: chunked',
    post(
      `content-length: ${chunk('a').length}\r\ntransfer-encoding: chunked\r\n`,
      `${chunk('a')}${SMUGGLED}`,
    ),
  ],
  [
    'TE: chunked then CL',
    post(`transfer-encoding: chunked\r\ncontent-length: 4\r\n`, `${chunk('a')}${SMUGGLED}`),
  ],
  [
    'CL with TE hiding a request',
    post(`content-length: 4\r\ntransfer-encoding: chunked\r\n`, `0\r\n\r\n${SMUGGLED}`),
  ],
  ['duplicate CL, same value', post('content-length: 3\r\ncontent-length: 3\r\n', 'abc')],
  [
    'duplicate CL, conflicting',
    post(`content-length: 3\r\ncontent-length: ${3 + SMUGGLED.length}\r\n`, `abc${SMUGGLED}`),
  ],
  ['CL list "3, 3"', post('content-length: 3, 3\r\n', 'abc')],
  ['CL "+3"', post('content-length: +3\r\n', 'abc')],
  ['CL with a space before the colon', post('content-length : 3\r\n', 'abc')],
  ['TE: Chunked (case)', post('transfer-encoding: Chunked\r\n', chunk('abc'))],
  ['TE: " chunked" (leading space)', post('transfer-encoding:  chunked\r\n', chunk('abc'))],
  ['TE: "chunked " (trailing tab)', post('transfer-encoding: chunked\t\r\n', chunk('abc'))],
  ['TE: "\\vchunked"', post('transfer-encoding: \x0bchunked\r\n', chunk('abc'))],
  ['TE: xchunked', post(`transfer-encoding: xchunked\r\ncontent-length: ${SMUGGLED.length}\r\n`, SMUGGLED)],
  ['TE: chunked, identity', post('transfer-encoding: chunked, identity\r\n', chunk('abc'))],
  ['TE: gzip, chunked', post('transfer-encoding: gzip, chunked\r\n', chunk('abc'))],
  [
    'TE: chunked twice (two lines)',
    post('transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n', chunk('abc')),
  ],
  ['TE: gzip + TE: chunked', post('transfer-encoding: gzip\r\ntransfer-encoding: chunked\r\n', chunk('abc'))],
  [
    'TE with a space before the colon',
    post(`transfer-encoding : chunked\r\ncontent-length: 4\r\n`, `0\r\n\r\n${SMUGGLED}`),
  ],
  ['TE by obs-fold', post(`transfer-encoding:\r\n chunked\r\ncontent-length: 4\r\n`, `0\r\n\r\n${SMUGGLED}`)],
  ['obs-fold on another header', post('x-a: a\r\n b\r\ncontent-length: 3\r\n', 'abc')],
  ['chunk size 0x3', post('transfer-encoding: chunked\r\n', '0x3\r\nabc\r\n0\r\n\r\n')],
  ['chunk size with bare LF', post('transfer-encoding: chunked\r\n', '3\nabc\r\n0\r\n\r\n')],
  ['chunk extension with bare LF', post('transfer-encoding: chunked\r\n', '3;x\nabc\r\n0\r\n\r\n')],
  ['chunk data longer than its size', post('transfer-encoding: chunked\r\n', `3\r\nabcdef\r\n0\r\n\r\n`)],
  [
    'HTTP/1.0 with TE: chunked',
    `POST /first HTTP/1.0\r\nhost: fuzz.test\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'bare LF line endings',
    `POST /first HTTP/1.1\nhost: fuzz.test\ncontent-length: ${SMUGGLED.length}\n\n${SMUGGLED}`,
  ],
  ['request in a valid CL body', post(`content-length: ${SMUGGLED.length}\r\n`, SMUGGLED)],
  ['request in a valid chunked body', post('transfer-encoding: chunked\r\n', chunk(SMUGGLED))],
];

const rows: MatrixRow[] = [];
afterAll(() => {
  if (rows.length > 0) writeMatrix('smuggling', 'Request smuggling', rows);
});

describe('request smuggling', () => {
  it('the upstream never sees a request boundary faultgate did not answer, also on reused connections', async () => {
    const up = await startRawUpstream();
    const fg = await startFaultgate(
      configYaml({ upstream: up.url }, 'limits: { keep_alive_timeout_ms: 300, headers_timeout_ms: 2000 }\n'),
    );
    const answered: string[] = [];
    for (const [name, bytes] of CASES) {
      const before = up.requests.length;
      const { bytes: reply, closed } = await exchange(
        fg.port,
        { parts: [Buffer.from(bytes + NEXT, 'latin1')], gapMs: 0, end: false },
        5000,
      );
      expect(closed, name).toBe(true);
      const { responses, partial } = parseResponses(reply);
      expect(partial, name).toBe(false);
      const echoed = responses.filter((r) => r.echo).map((r) => r.path!);
      const own = responses.filter((r) => !r.echo);
      for (const r of own) {
        expect(r.code, name).toMatch(/^FAULTGATE_ERR_/);
        expect(r.status, name).toBeLessThan(500);
      }
      const seen = up.requests.slice(before).map((r) => r.path);
      expect(seen, name).toEqual(echoed);
      expect(up.violations, name).toEqual([]);
      // The next client, on the (reused) upstream connection, gets its own answer.
      const probe = await fetch(`${fg.url}/probe`);
      expect(await probe.json(), name).toEqual({ path: '/probe' });
      answered.push(...echoed, '/probe');
      const observed = own.length
        ? `rejected: ${own.map((r) => `${r.status} ${r.code}`).join(', ')}${echoed.length ? `; before it ${echoed.join(' ')}` : ''}`
        : `normalised: upstream saw ${echoed.join(' ')}`;
      rows.push({ case: name, required: 'upstream boundaries = faultgate boundaries', observed, ok: true });
    }
    expect(up.requests.map((r) => r.path)).toEqual(answered);
    // Requests rode on few upstream connections, so the check above covered connection reuse.
    expect(new Set(up.requests.map((r) => r.connection)).size).toBeLessThan(up.requests.length);
  });
});

describe('framing rules faultgate adds to Node parser', () => {
  it('answers HTTP/1.1 without Host and non-chunked transfer codings with a coded 400, forwarding nothing', async () => {
    const up = await startRawUpstream();
    const fg = await startFaultgate(
      configYaml({ upstream: up.url }, 'limits: { keep_alive_timeout_ms: 300 }\n'),
    );
    for (const bytes of [
      'GET /no-host HTTP/1.1\r\nx-a: 1\r\n\r\n',
      `POST /te HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n${chunk('abc')}`,
    ]) {
      const { bytes: reply, closed } = await exchange(
        fg.port,
        { parts: [Buffer.from(bytes + NEXT)], gapMs: 0, end: false },
        5000,
      );
      expect(closed).toBe(true);
      const { responses } = parseResponses(reply);
      expect(responses.map((r) => `${r.status} ${r.code}`)).toEqual(['400 FAULTGATE_ERR_BAD_REQUEST']);
    }
    // HTTP/1.0 needs no Host.
    const { bytes: ok } = await exchange(
      fg.port,
      { parts: [Buffer.from('GET /old HTTP/1.0\r\n\r\n')], gapMs: 0, end: false },
      5000,
    );
    expect(parseResponses(ok).responses.map((r) => r.path)).toEqual(['/old']);
    expect(up.requests.map((r) => r.path)).toEqual(['/old']);
  });
});
