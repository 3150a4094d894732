/** The report formats of SPEC section 8: render a built Report as json, markdown, html or terminal text. */
import type { Report, ReportFormat } from '../report-model.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import { renderTerminal } from './terminal.js';

export { HTML_CSP } from './html.js';
export { TERMINAL_WIDTH } from './terminal.js';

export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'markdown', 'html', 'terminal'];

export const REPORT_CONTENT_TYPES: Record<ReportFormat, string> = {
  json: 'application/json',
  markdown: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
  terminal: 'text/plain; charset=utf-8',
};

export function isReportFormat(s: string): s is ReportFormat {
  return (REPORT_FORMATS as readonly string[]).includes(s);
}

export interface RenderOptions {
  /** ANSI colour in the terminal format (the other formats ignore it). */
  color: boolean;
}

export function renderReport(
  report: Report,
  format: ReportFormat,
  options: RenderOptions = { color: false },
): string {
  switch (format) {
    case 'json':
      return renderJson(report);
    case 'markdown':
      return renderMarkdown(report);
    case 'html':
      return renderHtml(report);
    case 'terminal':
      return renderTerminal(report, options);
  }
}
