// Find an event by id: GET /v1/events/{id} (with ?org_id= when several orgs
// used the id), its data, and per endpoint the delivery's state and every
// attempt, with Resend.
import { api, describe, enc } from './api.js';
import { h, clear, loading, alertBox, time, ago, badge, toast, kv, pretty } from './dom.js';

export async function eventPage(main, ctx, id, org) {
  const input = h('input', { id: 'find-id', name: 'id', value: id, required: true, spellcheck: 'false', autocomplete: 'off', placeholder: 'evt_…' });
  const orgIn = h('input', { id: 'find-org', name: 'org', value: org, spellcheck: 'false', autocomplete: 'off', placeholder: 'optional' });
  const form = h('form', { class: 'toolbar', role: 'search', id: 'find-form' },
    h('label', { for: 'find-id' }, 'Event id', input),
    h('label', { for: 'find-org' }, 'Org id', orgIn),
    h('button', { type: 'submit', class: 'primary' }, 'Find'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (!v) { input.focus(); return; }
    ctx.go('#/events/' + enc(v) + (orgIn.value.trim() ? '?org=' + enc(orgIn.value.trim()) : ''));
  });
  main.appendChild(h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, id ? 'Event ' : 'Find an event', id ? h('span', { class: 'mono' }, id) : null),
    h('p', { class: 'sub' }, 'Look up an event by its id to see every delivery and attempt.'))));
  main.appendChild(h('section', { class: 'panel' }, form));
  if (!id) { input.focus(); return; }

  const box = h('div', { 'aria-busy': 'true' }, loading('Looking up the event…'));
  main.appendChild(box);
  let ev;
  try {
    ev = await api('GET', '/v1/events/' + enc(id) + (org ? '?org_id=' + enc(org) : ''));
  } catch (e) {
    clear(box).appendChild(alertBox(e.code === 'not_found' ? 'No event with this id' + (org ? ' in org ' + org : '') + ' (it may have expired after HOOKQ_RETENTION).' : describe(e)));
    if (e.code === 'ambiguous') orgIn.focus();
    box.removeAttribute('aria-busy');
    return;
  }
  if (!ctx.alive()) return;
  ctx.setOrg(ev.org_id);
  box.removeAttribute('aria-busy');
  clear(box);
  box.appendChild(h('div', { class: 'grid' },
    h('section', { class: 'panel' }, h('h2', {}, 'Event'), kv([
      ['Type', h('span', { class: 'mono' }, ev.type)],
      ['Org', h('a', { href: '#/orgs/' + enc(ev.org_id) + '/endpoints', class: 'mono' }, ev.org_id)],
      ['Created', time(ev.created_at)],
      ['Test event', ev.test ? 'yes' : 'no'],
      ['Deliveries', String((ev.deliveries || []).length)],
    ])),
    h('section', { class: 'panel' }, h('h2', {}, 'Data'), h('pre', { 'aria-label': 'Event data' }, pretty(JSON.stringify(ev.data))))));
  const dls = ev.deliveries || [];
  if (dls.length === 0) {
    box.appendChild(h('section', { class: 'panel empty' }, h('p', {}, 'No endpoint of this org subscribed to ' + ev.type + ' when it was published, so nothing was delivered.')));
    return;
  }
  for (const d of dls) {
    const resend = h('button', { type: 'button', class: 'resend' }, 'Resend');
    resend.addEventListener('click', async () => {
      resend.disabled = true;
      try {
        await api('POST', `/v1/deliveries/${enc(d.id)}/resend?org_id=${enc(ev.org_id)}`, {});
        toast('Re-sent: a new attempt is queued');
        setTimeout(() => ctx.alive() && ctx.go(location.hash), 1200);
      } catch (e) { toast(describe(e)); resend.disabled = false; }
    });
    box.appendChild(h('section', { class: 'panel', 'data-delivery': d.id },
      h('div', { class: 'page-head' },
        h('div', {}, h('h2', {}, 'Delivery to ', h('a', { class: 'mono', href: '#/orgs/' + enc(ev.org_id) + '/endpoints/' + enc(d.endpoint_id) }, d.endpoint_id), ' ', badge(d.state)),
          h('p', { class: 'sub mono' }, d.id)),
        resend),
      kv([
        ['Attempts made', String(d.attempts_made ?? 0)],
        ['Last HTTP status', d.last_status != null ? String(d.last_status) : '—'],
        d.next_attempt_at ? ['Next attempt', [time(d.next_attempt_at), ' (' + ago(d.next_attempt_at) + ')']] : null,
        d.dead_reason ? ['Why dead', d.dead_reason] : null,
        ['Updated', time(d.updated_at)],
      ]),
      (d.attempts || []).length ? h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['#', 'When', 'Status', 'HTTP', 'Latency', 'Error', 'Response'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, d.attempts.slice().reverse().map((a) => h('tr', { class: 'item' },
          h('td', { 'data-label': 'Attempt' }, a.attempt),
          h('td', { 'data-label': 'When' }, time(a.at)),
          h('td', { 'data-label': 'Status' }, badge(a.status || 'unknown')),
          h('td', { 'data-label': 'HTTP' }, a.http_status ?? '—'),
          h('td', { 'data-label': 'Latency' }, a.latency_ms != null ? a.latency_ms + ' ms' : '—'),
          h('td', { 'data-label': 'Error', class: 'wrap' }, a.error || '—'),
          h('td', { 'data-label': 'Response', class: 'wrap mono' }, (a.response_body || '').slice(0, 200) || '—'))))) : h('p', { class: 'muted' }, 'Not attempted yet.')));
  }
}
