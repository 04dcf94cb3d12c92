/** The results chart: throughput and p99 per query shape, each server side by side (plain SVG). */

/** One bar group: a query shape, with a value per series (undefined: not measured). */
export interface ChartGroup {
  label: string;
  values: (number | undefined)[];
  /** Text under each bar (e.g. the ratio to plain). */
  notes?: (string | undefined)[];
}

export interface ChartPanel {
  title: string;
  unit: string;
  groups: ChartGroup[];
}

const COLORS = ['#9aa0a6', '#1a73e8', '#34a853', '#f29900'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function format(value: number): string {
  return value >= 100 ? String(Math.round(value)) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** Renders panels side by side with a shared legend; returns the SVG text. */
export function renderChart(options: { title: string; subtitle: string; series: string[]; panels: ChartPanel[] }): string {
  const panelWidth = 460;
  const panelHeight = 300;
  const top = 70;
  const left = 60;
  const width = left + options.panels.length * (panelWidth + 40);
  const height = top + panelHeight + 70 + 22 * Math.ceil(options.series.length / 2);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">${escape(options.title)}</text>`);
  out.push(`<text x="${left}" y="44" fill="#555">${escape(options.subtitle)}</text>`);
  options.panels.forEach((panel, p) => {
    const x0 = left + p * (panelWidth + 40);
    const max = niceMax(Math.max(...panel.groups.flatMap((g) => g.values.filter((v): v is number => v !== undefined))) * 1.1);
    const plotTop = top + 20;
    const plotHeight = panelHeight - 40;
    const y = (v: number) => plotTop + plotHeight - (v / max) * plotHeight;
    out.push(`<text x="${x0}" y="${top + 8}" font-size="13" font-weight="bold">${escape(panel.title)}</text>`);
    for (let i = 0; i <= 4; i += 1) {
      const v = (max / 4) * i;
      out.push(`<line x1="${x0}" x2="${x0 + panelWidth}" y1="${y(v)}" y2="${y(v)}" stroke="#e0e0e0"/>`);
      out.push(`<text x="${x0 - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${format(v)}</text>`);
    }
    out.push(`<text x="${x0 - 45}" y="${plotTop + plotHeight / 2}" transform="rotate(-90 ${x0 - 45} ${plotTop + plotHeight / 2})" text-anchor="middle" fill="#555">${escape(panel.unit)}</text>`);
    const groupWidth = panelWidth / panel.groups.length;
    panel.groups.forEach((group, g) => {
      const present = group.values.map((v, s) => ({ v, s })).filter((e): e is { v: number; s: number } => e.v !== undefined);
      const barWidth = Math.min(48, (groupWidth - 30) / Math.max(1, present.length));
      const gx = x0 + g * groupWidth + (groupWidth - barWidth * present.length) / 2;
      present.forEach(({ v, s }, k) => {
        const bx = gx + k * barWidth;
        out.push(`<rect x="${bx + 2}" y="${y(v)}" width="${barWidth - 4}" height="${plotTop + plotHeight - y(v)}" fill="${COLORS[s % COLORS.length]}"/>`);
        out.push(`<text x="${bx + barWidth / 2}" y="${y(v) - 4}" text-anchor="middle" font-size="10">${format(v)}</text>`);
        const note = group.notes?.[s];
        if (note) out.push(`<text x="${bx + barWidth / 2}" y="${plotTop + plotHeight + 28}" text-anchor="middle" font-size="10" fill="#333">${escape(note)}</text>`);
      });
      out.push(`<text x="${x0 + g * groupWidth + groupWidth / 2}" y="${plotTop + plotHeight + 14}" text-anchor="middle" font-weight="bold">${escape(group.label)}</text>`);
    });
    out.push(`<line x1="${x0}" x2="${x0 + panelWidth}" y1="${plotTop + plotHeight}" y2="${plotTop + plotHeight}" stroke="#333"/>`);
  });
  const legendTop = top + panelHeight + 40;
  options.series.forEach((name, s) => {
    const lx = left + (s % 2) * 440;
    const ly = legendTop + Math.floor(s / 2) * 22;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="14" height="14" fill="${COLORS[s % COLORS.length]}"/>`);
    out.push(`<text x="${lx + 20}" y="${ly + 1}">${escape(name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
