// Overview: throughput, lag, retry set, dead letters and live workers from
// GET /v1/stats, refreshed every second, with two small charts of the last
// three minutes (kept while the tab is open).
import { api, describe } from './api.js';
import { h, clear, loading, alertBox, time, ago } from './dom.js';
import { lineChart } from './chart.js';

const PERIOD_MS = 1000;
const KEEP = 180;              // samples: 3 minutes
const samples = [];            // {t, events, delivered, failed, lag, retry}

function rate(key) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    const dv = samples[i][key] - samples[i - 1][key];
    out.push(dt > 0 && dv >= 0 ? dv / dt : 0);
  }
  return out.length ? out : [0];
}

function card(k, v, s, id) {
  return h('div', { class: 'card', 'data-card': id }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v), h('div', { class: 's' }, s || '\u00a0'));
}

export async function overviewPage(main, ctx) {
  main.appendChild(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Overview'), h('p', { class: 'sub' }, 'Queue figures from /v1/stats, refreshed every second.')),
    h('p', { class: 'sub', id: 'ov-updated', 'aria-live': 'off' }, '')));
  const body = h('div', { 'aria-busy': 'true' }, loading('Loading statistics…'));
  main.appendChild(body);

  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));
  const tick = async () => {
    try {
      const st = await api('GET', '/v1/stats');
      if (!ctx.alive()) return;
      const t = st.totals || {};
      samples.push({ t: Date.now(), events: t.events || 0, delivered: t.delivered || 0, failed: t.failed || 0,
        lag: t.lag || 0, retry: t.retry_scheduled || 0 });
      while (samples.length > KEEP) samples.shift();
      render(body, st);
      const up = document.getElementById('ov-updated');
      if (up) up.textContent = 'Updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      if (!ctx.alive()) return;
      clear(body).appendChild(alertBox(describe(e)));
    }
    if (ctx.alive()) timer = setTimeout(tick, PERIOD_MS);
  };
  await tick();
}

function render(body, st) {
  const t = st.totals || {};
  const dps = rate('delivered'), eps = rate('events'), fps = rate('failed');
  const last = (a) => a[a.length - 1] || 0;
  const span = Math.round(((samples.length - 1) * PERIOD_MS) / 1000);
  const shardsOpen = !!body.querySelector('details[open]');
  body.removeAttribute('aria-busy');
  clear(body);
  body.appendChild(h('section', { class: 'cards', 'aria-label': 'Current figures' },
    card('Delivered / s', last(dps).toFixed(1), (t.delivered ?? 0) + ' delivered in total', 'throughput'),
    card('Events / s', last(eps).toFixed(1), (t.events ?? 0) + ' events in total', 'events'),
    card('Lag', String(t.lag ?? '—'), 'queued, not yet claimed', 'lag'),
    card('In flight', String(t.pending ?? 0), 'claimed, not acknowledged', 'pending'),
    card('Retry set', String(t.retry_scheduled ?? 0), t.next_retry_at ? 'next ' + ago(t.next_retry_at) : 'nothing scheduled', 'retry'),
    card('Dead letters', String(t.dead ?? 0), (t.dead_total ?? 0) + ' died ever', 'dead'),
    card('Live workers', String(st.live_workers ?? 0), 'heartbeat in the last 15 s', 'workers')));

  body.appendChild(h('div', { class: 'grid' },
    h('section', { class: 'panel' }, lineChart('Throughput per second', [
      { label: 'delivered', values: dps }, { label: 'failed attempts', values: fps }], span)),
    h('section', { class: 'panel' }, lineChart('Queue', [
      { label: 'lag', values: samples.map((s) => s.lag) }, { label: 'retry set', values: samples.map((s) => s.retry) }],
    span))));

  const workers = st.workers || [];
  body.appendChild(h('section', { class: 'panel', 'aria-labelledby': 'wk-h' }, h('h2', { id: 'wk-h' }, 'Workers'),
    workers.length === 0
      ? h('p', { class: 'empty' }, 'No live worker. Start hookq-worker: deliveries wait in the queue until one runs.')
      : h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['Worker', 'Version', 'In flight', 'Delivered', 'Failed', 'Dead', 'Last seen'].map((c, i) => h('th', { scope: 'col', class: i >= 2 && i <= 5 ? 'num' : null }, c)))),
        h('tbody', {}, workers.map((w) => h('tr', { class: 'item' },
          h('td', { 'data-label': 'Worker', class: 'wrap' }, h('span', { class: 'mono' }, w.id), h('br'), h('span', { class: 'muted' }, (w.host || '') + ' pid ' + (w.pid ?? ''))),
          h('td', { 'data-label': 'Version' }, w.version || '—'),
          h('td', { 'data-label': 'In flight', class: 'num' }, w.inflight ?? 0),
          h('td', { 'data-label': 'Delivered', class: 'num' }, w.delivered ?? 0),
          h('td', { 'data-label': 'Failed', class: 'num' }, w.failed ?? 0),
          h('td', { 'data-label': 'Dead', class: 'num' }, w.dead ?? 0),
          h('td', { 'data-label': 'Last seen' }, time(w.last_seen_at))))))));

  const shards = st.shards || [];
  body.appendChild(h('section', { class: 'panel' }, h('details', { open: shardsOpen },
    h('summary', {}, 'Per shard (' + shards.length + ')'),
    h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['Shard', 'Stream', 'Lag', 'In flight', 'Retry set', 'Next retry', 'Dead'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, shards.map((s) => h('tr', { class: 'item' },
        h('td', { 'data-label': 'Shard' }, s.shard), h('td', { 'data-label': 'Stream' }, s.stream_length),
        h('td', { 'data-label': 'Lag' }, s.lag ?? '—'), h('td', { 'data-label': 'In flight' }, s.pending),
        h('td', { 'data-label': 'Retry set' }, s.retry_scheduled), h('td', { 'data-label': 'Next retry' }, time(s.next_retry_at)),
        h('td', { 'data-label': 'Dead' }, s.dead))))))));
}
