/**
 * Bounds the distinct values one metric label may take (SPEC section 6: beyond the cap a value
 * becomes `other`), so an agent named by client IP cannot grow the registry without limit.
 */
export class LabelCap {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  get(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}
