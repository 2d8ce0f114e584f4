// The endpoints of an org (list) and one endpoint (detail): state and health,
// the secret shown once after create or rotate, Send test event, recover dead
// deliveries since a time, and the recent deliveries with every attempt's
// request as sent, response, latency, next retry and a Resend button.
import { api, describe, enc } from './api.js';
import { h, clear, loading, alertBox, time, ago, badge, toast, kv, pretty, confirmDialog, nextId } from './dom.js';
import { takeSecret, stashSecret } from './form.js';

export function matches(pattern, type) {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

export function epState(ep) {
  if (ep.is_active) return { state: 'active', label: 'Active' };
  if (ep.disabled_reason) return { state: 'disabled', label: 'Disabled', reason: ep.disabled_reason };
  return { state: 'paused', label: 'Disabled', reason: 'turned off by a user' };
}

function base(ctx) { return '#/orgs/' + enc(ctx.org); }

// Success rate over the endpoint's recent attempts and its last attempt.
async function recent(ep, ctx) {
  const j = await api('GET', `/v1/endpoints/${enc(ep.id)}/deliveries?limit=100&org_id=${enc(ctx.org)}`);
  const d = j.data || [];
  const ok = d.filter((x) => x.status === 'delivered').length;
  return { n: d.length, rate: d.length ? ok / d.length : null, last: d[0] || null };
}

function rateText(r) {
  if (!r || r.rate === null) return h('span', { class: 'muted' }, 'no attempts yet');
  const pct = Math.round(r.rate * 1000) / 10;
  return h('span', {}, h('strong', {}, pct + ' %'), h('span', { class: 'muted' }, ' of last ' + r.n));
}

function lastText(r) {
  if (!r || !r.last) return h('span', { class: 'muted' }, 'never');
  return h('span', {}, badge(r.last.status), ' ', h('span', { title: r.last.at }, ago(r.last.at)));
}

// ------------------------------------------------------------------ list

export async function endpointsPage(main, ctx) {
  main.appendChild(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Endpoints'), h('p', { class: 'sub' }, 'Organisation ', h('strong', { class: 'mono' }, ctx.org))),
    h('a', { class: 'button primary', href: base(ctx) + '/endpoints/new' }, 'New endpoint')));
  const box = h('section', { class: 'panel', 'aria-busy': 'true' }, loading('Loading endpoints…'));
  main.appendChild(box);
  let eps;
  try {
    eps = (await api('GET', '/v1/endpoints?org_id=' + enc(ctx.org))).data || [];
  } catch (e) {
    clear(box).appendChild(alertBox(describe(e)));
    return;
  }
  if (!ctx.alive()) return;
  box.removeAttribute('aria-busy');
  clear(box);
  if (eps.length === 0) {
    box.appendChild(h('div', { class: 'empty' },
      h('p', {}, 'This organisation has no endpoints yet.'),
      h('p', {}, 'An endpoint is a URL that receives the events it subscribes to, signed with its own secret.'),
      h('a', { class: 'button primary', href: base(ctx) + '/endpoints/new' }, 'Create the first endpoint')));
    return;
  }
  const rows = eps.map((ep) => {
    const st = epState(ep);
    const rateCell = h('td', { 'data-label': 'Success rate' }, h('span', { class: 'muted' }, '…'));
    const lastCell = h('td', { 'data-label': 'Last delivery' }, h('span', { class: 'muted' }, '…'));
    recent(ep, ctx).then((r) => { clear(rateCell).appendChild(rateText(r)); clear(lastCell).appendChild(lastText(r)); })
      .catch(() => { clear(rateCell).append('—'); clear(lastCell).append('—'); });
    return h('tr', { class: 'item', 'data-endpoint': ep.id },
      h('td', { 'data-label': 'Endpoint', class: 'wrap' },
        h('a', { href: base(ctx) + '/endpoints/' + enc(ep.id) }, ep.name || ep.url), h('br'),
        h('span', { class: 'muted mono' }, ep.url)),
      h('td', { 'data-label': 'State', class: 'wrap' }, badge(st.state, st.label),
        st.reason ? h('div', { class: 'muted' }, st.reason) : null),
      h('td', { 'data-label': 'Events', class: 'wrap' }, (ep.events || []).join(', ')),
      rateCell, lastCell);
  });
  box.appendChild(h('table', { class: 'list' },
    h('caption', { class: 'muted', hidden: true }, 'Endpoints of ' + ctx.org),
    h('thead', {}, h('tr', {}, ['Endpoint', 'State', 'Events', 'Success rate', 'Last delivery'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows)));
}

// ------------------------------------------------------------------ detail

export async function endpointPage(main, ctx, id) {
  main.appendChild(loading('Loading endpoint…'));
  let ep, catalogue = [];
  try {
    [ep, catalogue] = await Promise.all([
      api('GET', `/v1/endpoints/${enc(id)}?org_id=${enc(ctx.org)}`),
      api('GET', '/v1/event-types?org_id=' + enc(ctx.org)).then((j) => j.data || []).catch(() => []),
    ]);
  } catch (e) {
    clear(main).appendChild(alertBox(describe(e)));
    main.appendChild(h('p', {}, h('a', { href: base(ctx) + '/endpoints' }, 'Back to the endpoints')));
    return;
  }
  if (!ctx.alive()) return;
  clear(main);
  const st = epState(ep);
  const epPath = `/v1/endpoints/${enc(ep.id)}`;
  const orgQ = 'org_id=' + enc(ctx.org);

  const secret = takeSecret(ep.id);
  if (secret) main.appendChild(secretPanel(secret));

  const toggle = h('button', { type: 'button', id: 'toggle-active' }, ep.is_active ? 'Disable' : 'Enable');
  toggle.addEventListener('click', async () => {
    if (ep.is_active && !await confirmDialog('Disable this endpoint?', 'No new events are sent to it until it is enabled again. Deliveries already queued still run.', 'Disable')) return;
    toggle.disabled = true;
    try {
      await api('PATCH', `${epPath}?${orgQ}`, { is_active: !ep.is_active });
      toast(ep.is_active ? 'Endpoint disabled' : 'Endpoint enabled');
      ctx.go(location.hash);
    } catch (e) { toast(describe(e)); toggle.disabled = false; }
  });
  const rotate = h('button', { type: 'button', id: 'rotate' }, 'Rotate secret');
  rotate.addEventListener('click', async () => {
    if (!await confirmDialog('Rotate the signing secret?', 'A new secret is made and shown once. The old one keeps signing alongside it for a while (HOOKQ_ROTATION_OVERLAP) so receivers can switch.', 'Rotate')) return;
    try {
      const r = await api('POST', `${epPath}/rotate-secret?${orgQ}`, {});
      stashSecret(ep.id, r.secret, r.old_secret_expires_at);
      ctx.go(location.hash);
    } catch (e) { toast(describe(e)); }
  });
  const del = h('button', { type: 'button', class: 'danger', id: 'delete' }, 'Delete');
  del.addEventListener('click', async () => {
    if (!await confirmDialog('Delete this endpoint?', 'It stops receiving events and its delivery log is deleted. This cannot be undone.', 'Delete')) return;
    try {
      await api('DELETE', `${epPath}?${orgQ}`);
      toast('Endpoint deleted');
      ctx.go(base(ctx) + '/endpoints');
    } catch (e) { toast(describe(e)); }
  });

  main.appendChild(h('div', { class: 'page-head' },
    h('div', {},
      h('p', { class: 'sub' }, h('a', { href: base(ctx) + '/endpoints' }, '← Endpoints of ' + ctx.org)),
      h('h1', {}, ep.name || ep.url, ' ', badge(st.state, st.label)),
      h('p', { class: 'sub mono' }, ep.url), h('p', { class: 'sub mono' }, ep.id)),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: base(ctx) + '/endpoints/' + enc(ep.id) + '/edit' }, 'Edit'), toggle, rotate, del)));

  if (!ep.is_active) {
    main.appendChild(h('div', { class: 'alert', role: 'status' }, ep.disabled_reason
      ? ['hookq disabled this endpoint: ', h('strong', {}, ep.disabled_reason), ep.disabled_at ? ' (' + ago(ep.disabled_at) + ')' : '', '. Enable it to resume deliveries, then recover its dead deliveries below.']
      : 'This endpoint is disabled: no new events are sent to it. Enable it to resume.'));
  }

  const healthCell = h('span', { class: 'muted' }, '…');
  const healthRows = (e) => [
    ['Success rate', healthCell],
    ['Consecutive failures', String(e.health?.consecutive_failures ?? 0)],
    ['Failing since', time(e.health?.failing_since)],
    ['Last success', time(e.health?.last_success_at)],
  ];
  const healthBox = h('div', {}, kv(healthRows(ep)));
  main.appendChild(h('div', { class: 'grid' },
    h('section', { class: 'panel' }, h('h2', {}, 'Subscribed events'),
      h('p', {}, (ep.events || []).map((e) => [h('span', { class: 'tag mono' }, e), ' '])),
      ep.description ? h('p', { class: 'muted' }, ep.description) : null),
    h('section', { class: 'panel' }, h('h2', {}, 'Health'), healthBox),
    h('section', { class: 'panel' }, h('h2', {}, 'Delivery settings'), kv([
      ['Payload format', ep.payload_format],
      ['Signature', ep.signature_format === 'none' ? 'none' : ep.signature_header + ' (' + ep.signature_format + ')'],
      ['Auth', ep.auth?.type || 'none'],
      ['Headers', Object.keys(ep.headers || {}).length ? Object.entries(ep.headers).map(([k, v]) => k + ': ' + v).join(', ') : 'none'],
      ['Timeout', ep.timeout_ms ? ep.timeout_ms + ' ms' : 'default (HOOKQ_TIMEOUT)'],
      ['Rate limit', ep.rate_limit_per_sec ? ep.rate_limit_per_sec + ' / s' : 'none'],
      ['Retry schedule', ep.retry_schedule || 'default (HOOKQ_RETRY_SCHEDULE)'],
    ]))));

  main.appendChild(h('div', { class: 'grid' }, testPanel(ep, ctx, catalogue), recoverPanel(ep, ctx)));
  main.appendChild(deliveriesPanel(ep, ctx, (data) => {
    const ok = data.filter((x) => x.status === 'delivered').length;
    clear(healthCell).appendChild(rateText({ n: data.length, rate: data.length ? ok / data.length : null }));
    api('GET', `${epPath}?${orgQ}`).then((fresh) => { if (ctx.alive()) clear(healthBox).appendChild(kv(healthRows(fresh))); }).catch(() => {});
  }));
}

// The secret, shown once, with a copy button.
function secretPanel(s) {
  const id = nextId('secret');
  const input = h('input', { id, type: 'text', readonly: true, value: s.secret, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': id + '-hint' });
  const copy = h('button', { type: 'button', class: 'primary', id: 'copy-secret' }, 'Copy');
  const panel = h('section', { class: 'panel notice', 'aria-labelledby': id + '-h', id: 'secret-panel' },
    h('h2', { id: id + '-h' }, s.rotated ? 'New signing secret' : 'Signing secret'),
    h('p', { id: id + '-hint' }, 'This is the only time the secret is shown. Copy it now and store it with your receiver: it verifies the signature header of every delivery.',
      s.rotated && s.oldExpires ? ' The old secret keeps signing alongside until ' + new Date(s.oldExpires).toLocaleString() + '.' : ''),
    h('label', { for: id }, 'Secret'),
    h('div', { class: 'secret-box' }, input, copy));
  copy.addEventListener('click', async () => {
    let ok = false;
    try { await navigator.clipboard.writeText(s.secret); ok = true; } catch {
      input.select();
      try { ok = document.execCommand('copy'); } catch { ok = false; }
    }
    copy.textContent = ok ? 'Copied' : 'Copy failed: select and copy it';
    toast(ok ? 'Secret copied to the clipboard' : 'Could not copy; select the text and copy it');
  });
  const done = h('button', { type: 'button', id: 'secret-done' }, 'I have stored it');
  done.addEventListener('click', () => panel.remove());
  panel.appendChild(h('div', { class: 'actions' }, done));
  return panel;
}

function testPanel(ep, ctx, catalogue) {
  const types = new Set();
  for (const p of ep.events || []) if (!p.includes('*')) types.add(p);
  for (const c of catalogue) if ((ep.events || []).some((p) => matches(p, c.type))) types.add(c.type);
  const list = [...types].sort();
  if (list.length === 0) list.push('webhook.test');
  const sel = h('select', { id: 'test-type', name: 'type' }, list.map((t) => h('option', { value: t }, t)));
  const out = h('p', { 'aria-live': 'polite', id: 'test-result' });
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Send test event');
  const form = h('form', { class: 'toolbar', id: 'test-form' },
    h('label', { for: 'test-type' }, 'Event type', sel), btn);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    out.textContent = 'Sending…';
    try {
      const r = await api('POST', `/v1/endpoints/${enc(ep.id)}/test?org_id=${enc(ctx.org)}`, { type: sel.value });
      clear(out).append('Test event ', h('a', { href: '#/events/' + enc(r.id) + '?org=' + enc(ctx.org), class: 'mono' }, r.id), ' queued. It appears in Recent deliveries below.');
      document.dispatchEvent(new CustomEvent('hookq:refresh'));
    } catch (e) { out.textContent = describe(e); }
    btn.disabled = false;
  });
  return h('section', { class: 'panel' }, h('h2', {}, 'Send test event'),
    h('p', { class: 'muted' }, 'Delivers a synthetic event ({"test": true, …}) of the chosen type to this endpoint only.'), form, out);
}

function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function recoverPanel(ep, ctx) {
  const input = h('input', { id: 'recover-since', type: 'datetime-local', required: true, value: localInput(new Date(Date.now() - 86400000)) });
  const out = h('p', { 'aria-live': 'polite', id: 'recover-result' });
  const btn = h('button', { type: 'submit' }, 'Recover dead deliveries');
  const form = h('form', { class: 'toolbar', id: 'recover-form' }, h('label', { for: 'recover-since' }, 'Dead since (local time)', input), btn);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = new Date(input.value);
    if (isNaN(d)) { out.textContent = 'Enter a date and time.'; return; }
    btn.disabled = true;
    try {
      const r = await api('POST', `/v1/endpoints/${enc(ep.id)}/recover?org_id=${enc(ctx.org)}`, { since: d.toISOString().replace(/\.\d+Z$/, 'Z') });
      out.textContent = r.recovered === 0 ? 'No dead delivery since then.' : `Re-enqueued ${r.recovered} dead deliver${r.recovered === 1 ? 'y' : 'ies'}.`;
      document.dispatchEvent(new CustomEvent('hookq:refresh'));
    } catch (e) { out.textContent = describe(e); }
    btn.disabled = false;
  });
  return h('section', { class: 'panel' }, h('h2', {}, 'Recover'),
    h('p', { class: 'muted' }, 'Re-enqueue every dead delivery of this endpoint since a time, each with a fresh retry round.'), form, out);
}

// ------------------------------------------------------------------ deliveries

function deliveriesPanel(ep, ctx, onFirstPage) {
  const status = h('select', { id: 'dl-status' }, ['all', 'delivered', 'failed', 'dead'].map((s) => h('option', { value: s }, s)));
  const live = h('input', { type: 'checkbox', id: 'dl-live', checked: true });
  const refresh = h('button', { type: 'button', id: 'dl-refresh' }, 'Refresh');
  const body = h('div', { id: 'deliveries', 'aria-busy': 'true' }, loading('Loading deliveries…'));
  const more = h('button', { type: 'button', hidden: true, id: 'dl-more' }, 'Load older');
  const open = new Map();       // log_id -> detail row (kept across refreshes)
  let extra = [];               // entries loaded with "Load older"
  let cursor = null, timer = null, busy = false;

  const load = async (append) => {
    if (busy) return;
    busy = true;
    try {
      let url = `/v1/endpoints/${enc(ep.id)}/deliveries?status=${status.value}&limit=25&org_id=${enc(ctx.org)}`;
      if (append && cursor) url += '&cursor=' + enc(cursor);
      const j = await api('GET', url);
      if (!ctx.alive()) return;
      if (append) extra = extra.concat(j.data || []);
      else if (!extra.length) cursor = j.next_cursor;
      if (append) cursor = j.next_cursor;
      render(append ? null : j.data || []);
      if (!append && status.value === 'all' && onFirstPage) onFirstPage(j.data || []);
    } catch (e) {
      if (ctx.alive()) clear(body).appendChild(alertBox(describe(e)));
    } finally { busy = false; }
  };
  let first = [];
  const render = (data) => {
    if (data) first = data;
    const seen = new Set();
    const items = first.concat(extra).filter((d) => { const k = d.log_id; if (seen.has(k)) return false; seen.add(k); return true; });
    body.removeAttribute('aria-busy');
    clear(body);
    more.hidden = !cursor || items.length < 25;
    if (items.length === 0) {
      body.appendChild(h('p', { class: 'empty' }, status.value === 'all'
        ? 'No deliveries yet. Send a test event, or publish an event this endpoint subscribes to.'
        : 'No ' + status.value + ' deliveries in the recent log.'));
      return;
    }
    body.appendChild(h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['When', 'Event', 'Attempt', 'Status', 'HTTP', 'Latency', 'Next retry', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, items.flatMap((d) => deliveryRows(d, ep, ctx, open)))));
  };
  const schedule = () => { clearTimeout(timer); if (live.checked && ctx.alive()) timer = setTimeout(async () => { await load(false); schedule(); }, 2500); };
  status.addEventListener('change', () => { extra = []; cursor = null; open.clear(); load(false); });
  refresh.addEventListener('click', () => load(false));
  more.addEventListener('click', () => load(true));
  live.addEventListener('change', schedule);
  const onRefresh = () => load(false);
  document.addEventListener('hookq:refresh', onRefresh);
  ctx.onLeave(() => { clearTimeout(timer); document.removeEventListener('hookq:refresh', onRefresh); });
  load(false).then(schedule);

  return h('section', { class: 'panel', 'aria-labelledby': 'dl-h' },
    h('h2', { id: 'dl-h' }, 'Recent deliveries'),
    h('div', { class: 'toolbar' },
      h('label', { for: 'dl-status' }, 'Status', status),
      h('label', { class: 'check', for: 'dl-live' }, live, 'Live (every 2.5 s)'),
      refresh),
    body, more);
}

function deliveryRows(d, ep, ctx, open) {
  const detailId = 'dl-' + d.log_id.replace(/[^0-9a-z]/gi, '-');
  const btn = h('button', { type: 'button', class: 'link', 'aria-expanded': open.has(d.log_id) ? 'true' : 'false', 'aria-controls': detailId }, 'Details');
  const resend = h('button', { type: 'button', class: 'resend' }, 'Resend');
  const row = h('tr', { class: 'item', 'data-log': d.log_id, 'data-status': d.status || '', 'data-delivery': d.delivery_id || '' },
    h('td', { 'data-label': 'When' }, time(d.at)),
    h('td', { 'data-label': 'Event', class: 'wrap' }, d.event_type || '—', h('br'),
      d.event_id ? h('a', { class: 'mono muted', href: '#/events/' + enc(d.event_id) + '?org=' + enc(ctx.org) }, d.event_id) : null),
    h('td', { 'data-label': 'Attempt' }, d.attempt ?? '—'),
    h('td', { 'data-label': 'Status' }, badge(d.status || 'unknown')),
    h('td', { 'data-label': 'HTTP' }, d.http_status ?? '—'),
    h('td', { 'data-label': 'Latency' }, d.latency_ms != null ? d.latency_ms + ' ms' : '—'),
    h('td', { 'data-label': 'Next retry' }, !d.next_attempt_at ? '—'
      : new Date(d.next_attempt_at) > new Date() ? h('span', { title: d.next_attempt_at }, ago(d.next_attempt_at)) : time(d.next_attempt_at)),
    h('td', {}, h('div', { class: 'row-actions' }, btn, d.delivery_id ? resend : null)));
  btn.addEventListener('click', () => {
    const isOpen = open.has(d.log_id);
    if (isOpen) { open.get(d.log_id).remove(); open.delete(d.log_id); btn.setAttribute('aria-expanded', 'false'); return; }
    const det = h('tr', { class: 'detail', id: detailId }, h('td', { colspan: 8 }, loading('Loading the attempt…')));
    open.set(d.log_id, det);
    row.after(det);
    btn.setAttribute('aria-expanded', 'true');
    attemptDetail(d, ep, ctx).then((node) => clear(det.firstChild).appendChild(node))
      .catch((e) => clear(det.firstChild).appendChild(alertBox(describe(e))));
  });
  resend.addEventListener('click', async () => {
    resend.disabled = true;
    try {
      await api('POST', `/v1/deliveries/${enc(d.delivery_id)}/resend?org_id=${enc(ctx.org)}`, {});
      toast('Re-sent: a new attempt is queued');
      document.dispatchEvent(new CustomEvent('hookq:refresh'));
    } catch (e) { toast(describe(e)); resend.disabled = false; }
  });
  const rows = [row];
  if (open.has(d.log_id)) rows.push(open.get(d.log_id));
  return rows;
}

// The request as sent (body rebuilt from the stored event in the endpoint's
// payload format; headers as recorded, secrets redacted), the response and
// the delivery's state.
async function attemptDetail(d, ep, ctx) {
  let ev = null;
  if (d.event_id) {
    try { ev = await api('GET', `/v1/events/${enc(d.event_id)}?org_id=${enc(ctx.org)}`); } catch { ev = null; }
  }
  const dl = ev?.deliveries?.find((x) => x.id === d.delivery_id) || null;
  const at = dl?.attempts?.find((a) => a.attempt === d.attempt) || null;
  const headers = at?.request_headers || d.request_headers || {};
  const reqText = Object.entries(headers).map(([k, v]) => k + ': ' + v).join('\n');
  return h('div', { class: 'grid' },
    h('div', {},
      h('h3', {}, 'Request'),
      h('p', { class: 'mono wrap' }, 'POST ', at?.url || ep.url),
      h('pre', { 'aria-label': 'Request headers' }, reqText || '(not recorded)'),
      h('h3', {}, 'Body'),
      h('pre', { 'aria-label': 'Request body' }, ev ? pretty(body(ev, ep)) : '(the event has expired)')),
    h('div', {},
      h('h3', {}, 'Response'),
      kv([
        ['Status', d.http_status != null ? String(d.http_status) : 'no response'],
        ['Error', d.error || '—'],
        ['Latency', d.latency_ms != null ? d.latency_ms + ' ms' : '—'],
        ['Attempt', String(d.attempt ?? '—')],
        ['Next retry', d.next_attempt_at ? time(d.next_attempt_at) : '—'],
        ['Delivery', dl ? [badge(dl.state), dl.dead_reason ? ' ' + dl.dead_reason : ''] : (d.delivery_id || '—')],
        ['Worker', at?.worker || '—'],
      ]),
      h('h3', {}, 'Response body'),
      h('pre', { 'aria-label': 'Response body' }, d.response_body ? pretty(d.response_body) : '(empty)')));
}

// The delivered body, byte-for-byte as hookq builds it (SPEC 4, 4a).
export function body(ev, ep) {
  const f = ep?.payload_format || 'hookq';
  if (f === 'event_payload') {
    let ts = ev.created_at;
    const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(ts || '');
    if (m) ts = m[1] + ((m[2] || '.000') + '000').slice(0, 4) + 'Z';
    return JSON.stringify({ event: ev.type, timestamp: ts, payload: ev.data });
  }
  if (f === 'event_data') return JSON.stringify({ event: ev.type, timestamp: ev.created_at, data: ev.data });
  return JSON.stringify({ id: ev.id, type: ev.type, created_at: ev.created_at, org_id: ev.org_id, data: ev.data });
}
