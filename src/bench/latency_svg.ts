/**
 * The percentile plot of `venue bench latency`, as a hand-written SVG (no dependency):
 * one panel per rate, latency against percentile, one line per stage, plus the raw
 * fdatasync curve of the same disk for reference.
 *
 *   x  percentile on a log axis of 1 / (1 - p): 0, 90, 99, 99.9, 99.99, 99.999 are evenly
 *      spaced, so the tail gets the room it deserves. A curve ends with its max, placed at
 *      the percentile its sample count still resolves (1 / (1 - p) = count).
 *   y  latency on a log axis (whole decades), the same for every panel; its bottom is set
 *      by the values from p10 up, and anything lower is drawn on the bottom edge.
 *
 * Text is escaped; numbers are written with one decimal, so the file is small and stable.
 */

export interface PlotLine {
  name: string;
  color: string;
  dashed?: boolean;
  /** [percentile 0..100, latency ns], rising in percentile. */
  points: Array<[number, number]>;
}

export interface PlotPanel {
  title: string;
  lines: PlotLine[];
}

/** Percentiles to sample a histogram at: evenly spaced on the plot's x axis, up to p99.999. */
export function plotPercentiles(count: number): number[] {
  const out: number[] = [];
  for (let k = 0; k <= 40; k++) {
    const inv = Math.pow(10, k / 8); // 1 / (1 - p)
    if (inv > count) break;
    out.push(100 * (1 - 1 / inv));
  }
  return out;
}

const escape = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const f1 = (x: number): string => x.toFixed(1);

function fmtAxis(ns: number): string {
  if (ns >= 1e9) return `${ns / 1e9} s`;
  if (ns >= 1e6) return `${ns / 1e6} ms`;
  if (ns >= 1e3) return `${ns / 1e3} µs`;
  return `${ns} ns`;
}

export function percentileSvg(title: string, subtitle: string, panels: PlotPanel[]): string {
  const panelW = 520;
  const panelH = 300;
  const L = 64;
  const R = 16;
  const T = 30;
  const B = 40;
  const legendW = 250;
  const cols = Math.min(2, Math.max(1, panels.length));
  const rows = Math.ceil(panels.length / cols);
  const W = cols * panelW + legendW;
  const H = 56 + rows * panelH;
  // One y range for every panel: whole decades around every value plotted.
  // The bottom is set by the lines from p10 up (a minimum of a few ns says little and would
  // squash the rest); anything lower sits on the bottom edge.
  let lo = Infinity;
  let hi = 0;
  for (const p of panels) for (const l of p.lines) for (const [pc, v] of l.points) if (v > 0) {
    if (pc >= 10) lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!Number.isFinite(lo)) {
    lo = 1e3;
    hi = 1e6;
  }
  const yLo = Math.pow(10, Math.floor(Math.log10(lo)));
  const yHi = Math.pow(10, Math.max(Math.ceil(Math.log10(hi)), Math.log10(yLo) + 1));
  const xMaxInv = 5; // p99.999
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="12" y="20" font-size="15" font-weight="bold">${escape(title)}</text>`);
  out.push(`<text x="12" y="38" fill="#555">${escape(subtitle)}</text>`);
  panels.forEach((panel, n) => {
    const ox = (n % cols) * panelW;
    const oy = 56 + Math.floor(n / cols) * panelH;
    const x0 = ox + L;
    const x1 = ox + panelW - R;
    const y0 = oy + T;
    const y1 = oy + panelH - B;
    const xOf = (p: number): number => x0 + (Math.min(xMaxInv, Math.log10(1 / Math.max(1e-9, 1 - p / 100))) / xMaxInv) * (x1 - x0);
    const yOf = (ns: number): number => y1 - ((Math.log10(Math.max(ns, yLo)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * (y1 - y0);
    out.push(`<g>`);
    out.push(`<text x="${f1(x0)}" y="${f1(oy + 18)}" font-size="13">${escape(panel.title)}</text>`);
    out.push(`<rect x="${f1(x0)}" y="${f1(y0)}" width="${f1(x1 - x0)}" height="${f1(y1 - y0)}" fill="none" stroke="#999"/>`);
    for (const p of [0, 90, 99, 99.9, 99.99, 99.999]) {
      const x = xOf(p);
      out.push(`<line x1="${f1(x)}" y1="${f1(y0)}" x2="${f1(x)}" y2="${f1(y1)}" stroke="#e4e4e4"/>`);
      out.push(`<text x="${f1(x)}" y="${f1(y1 + 14)}" text-anchor="middle">${p === 0 ? "p0" : `p${p}`}</text>`);
    }
    for (let v = yLo; v <= yHi * 1.0001; v *= 10) {
      const y = yOf(v);
      out.push(`<line x1="${f1(x0)}" y1="${f1(y)}" x2="${f1(x1)}" y2="${f1(y)}" stroke="#e4e4e4"/>`);
      out.push(`<text x="${f1(x0 - 4)}" y="${f1(y + 4)}" text-anchor="end">${fmtAxis(v)}</text>`);
    }
    out.push(`<text x="${f1((x0 + x1) / 2)}" y="${f1(y1 + 30)}" text-anchor="middle" fill="#555">percentile</text>`);
    for (const l of panel.lines) {
      if (l.points.length === 0) continue;
      const pts = l.points.map(([p, ns]) => `${f1(xOf(p))},${f1(yOf(ns))}`).join(" ");
      out.push(`<polyline fill="none" stroke="${l.color}" stroke-width="1.8"${l.dashed === true ? ' stroke-dasharray="5 3"' : ""} points="${pts}"/>`);
    }
    out.push(`</g>`);
  });
  // One legend for all panels (every panel draws the same stages in the same colours).
  const seen = new Map<string, PlotLine>();
  for (const p of panels) for (const l of p.lines) if (!seen.has(l.name)) seen.set(l.name, l);
  let ly = 56 + T + 6;
  const lx = cols * panelW + 8;
  for (const l of seen.values()) {
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${l.color}" stroke-width="2"${l.dashed === true ? ' stroke-dasharray="5 3"' : ""}/>`);
    out.push(`<text x="${lx + 32}" y="${ly + 4}">${escape(l.name)}</text>`);
    ly += 18;
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
