// A small SVG line chart (no library): up to two series over the same time
// axis, drawn with CSS classes so it follows the light/dark theme.
import { svg, h } from './dom.js';

const W = 600, H = 160, PAD_L = 34, PAD_B = 16, PAD_T = 8, PAD_R = 6;

// series: [{label, values: [numbers]}] (1 or 2); the values share one scale;
// seconds: the time the samples span (the left axis label).
export function lineChart(title, series, seconds) {
  const max = Math.max(1, ...series.flatMap((s) => s.values.filter((v) => Number.isFinite(v))));
  const top = niceCeil(max);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': title + ': ' +
    series.map((s) => s.label + ' now ' + fmt(s.values[s.values.length - 1] ?? 0)).join(', ') });
  const plotW = W - PAD_L - PAD_R, plotH = H - PAD_T - PAD_B;
  for (let i = 0; i <= 5; i++) {
    const y = PAD_T + plotH - (plotH * i) / 5;
    root.appendChild(svg('line', { x1: PAD_L, x2: W - PAD_R, y1: y, y2: y, class: 'grid-line' }));
    const t = svg('text', { x: PAD_L - 4, y: y + 3, 'text-anchor': 'end', class: 'axis' });
    t.textContent = fmt((top * i) / 5);
    root.appendChild(t);
  }
  const tl = svg('text', { x: PAD_L, y: H - 3, class: 'axis' });
  tl.textContent = '−' + seconds + ' s';
  root.appendChild(tl);
  const tr = svg('text', { x: W - PAD_R, y: H - 3, 'text-anchor': 'end', class: 'axis' });
  tr.textContent = 'now';
  root.appendChild(tr);
  series.forEach((s, idx) => {
    const n = s.values.length;
    if (n < 2) return;
    const pts = s.values.map((v, i) => {
      const x = PAD_L + (plotW * i) / (n - 1);
      const y = PAD_T + plotH - (plotH * (Number.isFinite(v) ? v : 0)) / top;
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    root.appendChild(svg('polyline', { points: pts.join(' '), class: 's' + (idx + 1), 'vector-effect': 'non-scaling-stroke' }));
  });
  const legend = h('div', { class: 'legend', 'aria-hidden': 'true' },
    series.map((s, i) => h('span', {}, h('span', { class: 'sw sw' + (i + 1) }), s.label + ': ' + fmt(s.values[s.values.length - 1] ?? 0))));
  return h('figure', { class: 'chart' }, h('figcaption', { class: 'muted' }, title), root, legend);
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (!Number.isFinite(v)) return '0';
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + 'k';
  return v % 1 === 0 ? String(v) : String(Math.round(v * 100) / 100);
}
