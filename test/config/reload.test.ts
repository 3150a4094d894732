import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { planListeners, restartNeeded, upstreamChanged, watchConfig } from '../../src/config/reload.js';
import type { ListenerConfig } from '../../src/config/schema.js';
import { waitFor } from '../helpers/index.js';
import { parsed, yaml } from './fixtures.js';

const listener = (name: string, listen: string) => ({ name, listen }) as ListenerConfig;

describe('planListeners', () => {
  it('keeps a listener whose name and address stay, wherever it moved in the list', () => {
    const running = [listener('a', '127.0.0.1:8080'), listener('b', '127.0.0.1:8081')];
    const next = [listener('b', '127.0.0.1:8081'), listener('a', '127.0.0.1:8080')];
    expect(planListeners(running, next)).toEqual({ keep: [1, 0], removed: [] });
  });

  it('binds a moved or new listener and removes the ones that are gone', () => {
    const running = [listener('a', '127.0.0.1:8080'), listener('b', '127.0.0.1:8081')];
    const next = [listener('a', '127.0.0.1:9090'), listener('c', '127.0.0.1:8082')];
    expect(planListeners(running, next)).toEqual({ keep: [undefined, undefined], removed: [0, 1] });
  });

  it('keeps the sockets of a renamed listener on a fixed address, but not on port 0', () => {
    const running = [listener('a', '127.0.0.1:8080'), listener('b', '127.0.0.1:0')];
    const next = [listener('renamed', '127.0.0.1:8080'), listener('other', '127.0.0.1:0')];
    expect(planListeners(running, next)).toEqual({ keep: [0, undefined], removed: [1] });
  });

  it('prefers the same name when two listeners share an address spelling', () => {
    const running = [listener('a', '127.0.0.1:0'), listener('b', '127.0.0.1:0')];
    const next = [listener('b', '127.0.0.1:0')];
    expect(planListeners(running, next)).toEqual({ keep: [1], removed: [0] });
  });
});

describe('restartNeeded and upstreamChanged', () => {
  const base = ['version: 1', 'listeners:', '  - name: main', '    listen: 127.0.0.1:0'];
  it('names the settings a running process cannot change', () => {
    const a = parsed(yaml(...base, 'admin: { listen: 127.0.0.1:9090 }'));
    const b = parsed(yaml(...base, 'admin: { listen: 127.0.0.1:9191 }', 'limits: { max_label_values: 10 }'));
    expect(restartNeeded(a, b)).toEqual([
      'admin.listen: "127.0.0.1:9090" -> "127.0.0.1:9191"',
      'limits.max_label_values: 200 -> 10',
    ]);
    expect(restartNeeded(a, a)).toEqual([]);
  });

  it('tells when the upstream pools must be rebuilt', () => {
    const a = parsed(yaml(...base));
    expect(upstreamChanged(a, parsed(yaml(...base)))).toBe(false);
    expect(upstreamChanged(a, parsed(yaml(...base, 'upstream: { connect_timeout_ms: 5 }')))).toBe(true);
  });
});

describe('watchConfig', () => {
  it('calls back once per settled change of content, not for other files or unchanged writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultgate-watch-'));
    const file = join(dir, 'proxy.yaml');
    writeFileSync(file, 'a');
    let calls = 0;
    const watcher = watchConfig(file, () => calls++, { debounceMs: 50 });
    onTestFinished(() => {
      watcher.close();
      rmSync(dir, { recursive: true, force: true });
    });
    writeFileSync(join(dir, 'other.yaml'), 'x');
    writeFileSync(file, 'a'); // same content
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(0);
    // An editor's burst of writes: one call.
    writeFileSync(file, 'b');
    writeFileSync(file, 'bc');
    writeFileSync(file, 'bcd');
    await waitFor(() => calls === 1, 5000, 'the change');
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(1);
  });
});
