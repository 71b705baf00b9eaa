/**
 * The SVG timeline of bench/signal.ts: each path's reading of each indicator as value / target over the seconds
 * around the step (top), and the replicas the simulated HPA decides from a few of them (bottom). Plain SVG: it
 * renders on GitHub and in any browser without a script.
 */

export interface TimelineInput {
  readonly title: string;
  readonly t0: number;
  readonly fromS: number;
  readonly toS: number;
  /** Points are [seconds from T0, value / target]; drawn as steps (a reading holds until the next). */
  readonly lines: ReadonlyArray<{ label: string; color: string; points: ReadonlyArray<[number, number]> }>;
  readonly decisions: ReadonlyArray<{ label: string; color: string; replicas: ReadonlyArray<[number, number]> }>;
}

const W = 960;
const LEFT = 60;
const RIGHT = 250;
const TOP_H = 300;
const BOTTOM_H = 160;
const GAP = 50;
const Y_MAX = 3;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderTimeline(input: TimelineInput): string {
  const plotW = W - LEFT - RIGHT;
  const x = (s: number) => LEFT + ((s - input.fromS) / (input.toS - input.fromS)) * plotW;
  const top = 40;
  const y1 = (v: number) => top + TOP_H - (Math.min(Math.max(v, 0), Y_MAX) / Y_MAX) * TOP_H;
  const bottom = top + TOP_H + GAP;
  const maxReplicas = Math.max(2, ...input.decisions.flatMap((d) => d.replicas.map(([, r]) => r)));
  const y2 = (r: number) => bottom + BOTTOM_H - (r / maxReplicas) * BOTTOM_H;
  const parts: string[] = [];
  const H = bottom + BOTTOM_H + 50;
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${LEFT}" y="20" font-size="13">${esc(input.title)}</text>`);

  // Axes and grid.
  for (let s = Math.ceil(input.fromS / 5) * 5; s <= input.toS; s += 5) {
    parts.push(`<line x1="${x(s)}" y1="${top}" x2="${x(s)}" y2="${bottom + BOTTOM_H}" stroke="#eee"/>`);
    parts.push(`<text x="${x(s)}" y="${bottom + BOTTOM_H + 15}" text-anchor="middle">${s}</text>`);
  }
  parts.push(`<text x="${LEFT + plotW / 2}" y="${bottom + BOTTOM_H + 32}" text-anchor="middle">seconds after the step (T0)</text>`);
  for (let v = 0; v <= Y_MAX; v += 0.5) parts.push(`<text x="${LEFT - 6}" y="${y1(v) + 4}" text-anchor="end">${v}</text>`);
  parts.push(`<text x="14" y="${top + TOP_H / 2}" transform="rotate(-90 14 ${top + TOP_H / 2})" text-anchor="middle">reading / target</text>`);
  parts.push(`<line x1="${LEFT}" y1="${y1(1)}" x2="${LEFT + plotW}" y2="${y1(1)}" stroke="#000" stroke-dasharray="4 3"/>`);
  parts.push(`<line x1="${LEFT}" y1="${y1(1.1)}" x2="${LEFT + plotW}" y2="${y1(1.1)}" stroke="#999" stroke-dasharray="2 3"/>`);
  parts.push(`<text x="${LEFT + plotW + 4}" y="${y1(1.1) - 2}" fill="#999">+10 % tolerance</text>`);
  parts.push(`<line x1="${x(0)}" y1="${top}" x2="${x(0)}" y2="${bottom + BOTTOM_H}" stroke="#c00"/>`);
  parts.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${TOP_H}" fill="none" stroke="#333"/>`);
  parts.push(`<rect x="${LEFT}" y="${bottom}" width="${plotW}" height="${BOTTOM_H}" fill="none" stroke="#333"/>`);
  for (let r = 0; r <= maxReplicas; r += Math.max(1, Math.ceil(maxReplicas / 5))) parts.push(`<text x="${LEFT - 6}" y="${y2(r) + 4}" text-anchor="end">${r}</text>`);
  parts.push(`<text x="14" y="${bottom + BOTTOM_H / 2}" transform="rotate(-90 14 ${bottom + BOTTOM_H / 2})" text-anchor="middle">replicas</text>`);

  const step = (points: ReadonlyArray<[number, number]>, y: (v: number) => number): string => {
    const visible = points.filter(([s]) => s >= input.fromS && s <= input.toS);
    if (visible.length === 0) return '';
    let d = `M${x(visible[0][0]).toFixed(1)},${y(visible[0][1]).toFixed(1)}`;
    for (let i = 1; i < visible.length; i++) d += ` H${x(visible[i][0]).toFixed(1)} V${y(visible[i][1]).toFixed(1)}`;
    d += ` H${x(input.toS).toFixed(1)}`;
    return d;
  };
  input.lines.forEach((l, i) => {
    const d = step(l.points, y1);
    if (d !== '') parts.push(`<path d="${d}" fill="none" stroke="${l.color}" stroke-width="1.5"/>`);
    parts.push(`<rect x="${LEFT + plotW + 10}" y="${top + 8 + i * 16}" width="12" height="3" fill="${l.color}"/>`);
    parts.push(`<text x="${LEFT + plotW + 26}" y="${top + 12 + i * 16}">${esc(l.label)}</text>`);
  });
  input.decisions.forEach((dcs, i) => {
    const d = step(dcs.replicas, y2);
    if (d !== '') parts.push(`<path d="${d}" fill="none" stroke="${dcs.color}" stroke-width="1.5" stroke-dasharray="${i % 2 === 0 ? '' : '5 2'}"/>`);
    parts.push(`<rect x="${LEFT + plotW + 10}" y="${bottom + 8 + i * 16}" width="12" height="3" fill="${dcs.color}"/>`);
    parts.push(`<text x="${LEFT + plotW + 26}" y="${bottom + 12 + i * 16}">${esc(dcs.label)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
