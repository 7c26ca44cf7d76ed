/** A dependency-free SVG plot: empirical CDFs of latency samples, one line per series, x up to the largest p99. */
export interface Series {
  name: string;
  samplesMs: number[];
  color: string;
  /** Drawn dashed (e.g. the same series on a second platform, in the same colour). */
  dashed?: boolean;
}

export function latencyCdfSvg(title: string, series: Series[], width = 760, height = 420): string {
  const margin = { left: 60, right: 20, top: 40, bottom: 50 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sortedAll = series.map((s) => [...s.samplesMs].sort((a, b) => a - b));
  const xMax = niceCeil(Math.max(...sortedAll.map((s) => s[Math.floor(s.length * 0.99)] ?? 0), 0.001));
  const x = (ms: number) => margin.left + (Math.min(ms, xMax) / xMax) * plotW;
  const y = (q: number) => margin.top + plotH - q * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (xMax * i) / 5;
    out.push(
      `<line x1="${x(v)}" y1="${margin.top}" x2="${x(v)}" y2="${margin.top + plotH}" stroke="#eee"/>`,
      `<text x="${x(v)}" y="${margin.top + plotH + 18}" text-anchor="middle">${fmt(v)}</text>`,
    );
    const q = i / 5;
    out.push(
      `<line x1="${margin.left}" y1="${y(q)}" x2="${margin.left + plotW}" y2="${y(q)}" stroke="#eee"/>`,
      `<text x="${margin.left - 8}" y="${y(q) + 4}" text-anchor="end">${Math.round(q * 100)}%</text>`,
    );
  }
  out.push(
    `<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">latency (ms), x axis cut at the largest p99</text>`,
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
  );
  series.forEach((s, i) => {
    const sorted = sortedAll[i];
    const step = Math.max(1, Math.floor(sorted.length / 400));
    const pts: string[] = [];
    for (let k = 0; k < sorted.length; k += step)
      pts.push(`${x(sorted[k]).toFixed(1)},${y((k + 1) / sorted.length).toFixed(1)}`);
    if (sorted.length) pts.push(`${x(sorted[sorted.length - 1]).toFixed(1)},${y(1).toFixed(1)}`);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.join(' ')}"/>`);
    // Legend in the bottom-right corner: the one region a latency CDF never crosses (late and rare).
    const ly = margin.top + plotH - 12 - (series.length - 1 - i) * 18;
    out.push(
      `<line x1="${margin.left + plotW - 250}" y1="${ly - 4}" x2="${margin.left + plotW - 230}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"${dash}/>`,
      `<text x="${margin.left + plotW - 224}" y="${ly}">${escape(s.name)} (n=${sorted.length})</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
}

function escape(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
