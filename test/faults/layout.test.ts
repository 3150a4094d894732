import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { faultDefinitions } from '../../src/faults/registry.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const NOT_FAULTS = new Set(['define.ts', 'registry.ts', 'types.ts']);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The files of `src/` a file imports (relative specifiers), as paths relative to `src/`. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, '.ts'));
}

describe('src/faults layout (docs/creating-faults.md)', () => {
  it('every fault file exports exactly one definition, and the registry lists each once', async () => {
    const files = readdirSync(join(SRC, 'faults')).filter((f) => f.endsWith('.ts') && !NOT_FAULTS.has(f));
    const registered = new Set<unknown>(faultDefinitions);
    const found: unknown[] = [];
    for (const file of files) {
      const mod = (await import(pathToFileURL(join(SRC, 'faults', file)).href)) as Record<string, unknown>;
      const defs = Object.values(mod).filter((v) => registered.has(v));
      expect(defs, file).toHaveLength(1);
      found.push(defs[0]);
    }
    expect(found).toHaveLength(faultDefinitions.length);
    expect(new Set(faultDefinitions.map((d) => d.type)).size).toBe(faultDefinitions.length);
  });

  it('keeps the folders layered: stream/ never imports faults/, faults/ reaches only kit/, stream/ and the leaf', () => {
    const problems: string[] = [];
    for (const file of tsFiles(SRC)) {
      const from = relative(SRC, file);
      for (const to of importsOf(file)) {
        if (from.startsWith('stream/') && to.startsWith('faults/')) problems.push(`${from} -> ${to}`);
        if (from === 'types.ts') problems.push(`${from} -> ${to} (the leaf imports nothing)`);
        if (from.startsWith('faults/') && !/^(faults\/|stream\/|types\.ts$)/.test(to))
          problems.push(`${from} -> ${to}`);
        // A fault file uses kit/, types and define; never another fault.
        const isFault = /^faults\/[^/]+\.ts$/.test(from) && !NOT_FAULTS.has(from.slice(7));
        if (isFault && /^faults\/[^/]+\.ts$/.test(to) && !NOT_FAULTS.has(to.slice(7)))
          problems.push(`${from} -> ${to}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
