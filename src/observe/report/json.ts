import type { Report } from '../report-model.js';

/** The Report object itself (SPEC section 8), pretty-printed; non-finite numbers become null. */
export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
