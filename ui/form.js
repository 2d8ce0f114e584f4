// Create and edit an endpoint: URL, name, event checkboxes from the org's
// catalogue (GET /v1/event-types) plus wildcards, auth type and its fields,
// custom headers, signature header and format, payload format, timeout, rate
// limit, retry schedule. The API's field errors are shown next to the field.
// After create (and rotate) the secret is handed to the endpoint page once,
// in memory only.
import { api, describe, enc, ApiError } from './api.js';
import { h, clear, loading, alertBox, toast } from './dom.js';

let handoff = null;
export function stashSecret(id, secret, oldExpires) { handoff = { id, secret, oldExpires, rotated: !!oldExpires }; }
export function takeSecret(id) {
  if (!handoff || handoff.id !== id) return null;
  const s = handoff;
  handoff = null;
  return s;
}

const AUTH = [['none', 'None'], ['basic', 'HTTP Basic'], ['api_key', 'API key (X-API-KEY)'], ['bearer', 'Bearer token']];
const PAYLOADS = [
  ['hookq', 'hookq — {"id","type","created_at","org_id","data"}'],
  ['event_payload', 'event_payload — {"event","timestamp" (ms),"payload"}'],
  ['event_data', 'event_data — {"event","timestamp","data"}'],
];
const SIGFMT = [['sha256=hex', 'sha256=<hex>'], ['hex', '<hex> (bare)'], ['none', 'none (no signature header)']];

function field(id, label, control, hint) {
  control.id = id;
  const hid = id + '-hint', eid = id + '-err';
  control.setAttribute('aria-describedby', (hint ? hid + ' ' : '') + eid);
  return h('div', { class: 'field', 'data-field': id },
    h('label', { for: id }, label), control,
    hint ? h('span', { class: 'hint', id: hid }, hint) : null,
    h('span', { class: 'ferr', id: eid, role: 'alert' }));
}

function select(name, options, value) {
  return h('select', { name }, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
}

// Wildcards derived from the catalogue: "*" and every proper prefix + ".*".
function wildcards(types) {
  const out = new Set();
  for (const t of types) {
    const segs = t.split('.');
    for (let i = 1; i < segs.length; i++) out.add(segs.slice(0, i).join('.') + '.*');
  }
  return ['*', ...[...out].sort()];
}

export async function formPage(main, ctx, id) {
  const editing = !!id;
  main.appendChild(loading(editing ? 'Loading endpoint…' : 'Loading the event catalogue…'));
  let ep = null, catalogue = [];
  try {
    [ep, catalogue] = await Promise.all([
      editing ? api('GET', `/v1/endpoints/${enc(id)}?org_id=${enc(ctx.org)}`) : Promise.resolve(null),
      api('GET', '/v1/event-types?org_id=' + enc(ctx.org)).then((j) => j.data || []),
    ]);
  } catch (e) {
    clear(main).appendChild(alertBox(describe(e)));
    return;
  }
  if (!ctx.alive()) return;
  clear(main);
  const back = editing ? '#/orgs/' + enc(ctx.org) + '/endpoints/' + enc(id) : '#/orgs/' + enc(ctx.org) + '/endpoints';
  main.appendChild(h('div', { class: 'page-head' }, h('div', {},
    h('p', { class: 'sub' }, h('a', { href: back }, editing ? '← Back to the endpoint' : '← Endpoints of ' + ctx.org)),
    h('h1', {}, editing ? 'Edit endpoint' : 'New endpoint'),
    h('p', { class: 'sub' }, 'Organisation ', h('strong', { class: 'mono' }, ctx.org)))));

  const topErr = h('div', { class: 'alert', role: 'alert', hidden: true, id: 'form-error' });
  const form = h('form', { class: 'ep', novalidate: true, id: 'endpoint-form' });

  // --- basics
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://crm.example.com/hooks', value: ep?.url || '', autocomplete: 'off' });
  const name = h('input', { name: 'name', value: ep?.name || '', maxlength: 256 });
  const desc = h('input', { name: 'description', value: ep?.description || '' });
  const active = h('input', { type: 'checkbox', name: 'is_active', id: 'f-active', checked: ep ? ep.is_active : true });
  form.appendChild(h('fieldset', {}, h('legend', {}, 'Endpoint'),
    field('f-url', 'URL', url, 'Where hookq POSTs each event (http or https).'),
    h('div', { class: 'row2' }, field('f-name', 'Name', name), field('f-desc', 'Description', desc)),
    h('label', { class: 'check', for: 'f-active' }, active, 'Active (receives new events)')));

  // --- events
  const types = catalogue.map((c) => c.type);
  const current = new Set(ep?.events || (editing ? [] : []));
  const wild = wildcards(types);
  const known = new Set([...wild, ...types]);
  const boxes = [];
  const check = (value, label, tag) => {
    const cid = 'ev-' + value.replace(/[^A-Za-z0-9_]/g, (c) => (c === '*' ? 'all' : '_'));
    const cb = h('input', { type: 'checkbox', id: cid, value, checked: current.has(value) });
    boxes.push(cb);
    return h('label', { class: 'check', for: cid }, cb, h('span', { class: 'mono' }, value), label ? h('span', { class: 'muted' }, label) : null, tag ? h('span', { class: 'tag' }, tag) : null);
  };
  const other = h('input', { name: 'other', value: [...current].filter((p) => !known.has(p)).join(', '), placeholder: 'deal.stage.changed, form.*', autocomplete: 'off' });
  const register = h('input', { type: 'checkbox', id: 'f-register', checked: true });
  const evSet = h('fieldset', { id: 'f-events', 'aria-describedby': 'f-events-err' }, h('legend', {}, 'Events'),
    h('p', { class: 'hint muted' }, 'Choose what this endpoint receives: exact types, or wildcards ("lead.*" = every type starting with "lead.", "*" = everything).'),
    h('h3', {}, 'Wildcards'),
    h('div', { class: 'checks', role: 'group', 'aria-label': 'Wildcards' }, wild.map((w) => check(w, w === '*' ? 'all events' : ''))),
    h('h3', {}, 'Event types'),
    types.length
      ? h('div', { class: 'checks', role: 'group', 'aria-label': 'Event types' }, catalogue.map((c) => check(c.type, '', c.source === 'seen' ? 'seen' : null)))
      : h('p', { class: 'muted' }, 'The catalogue is empty: no types are declared (HOOKQ_EVENT_TYPES, POST /v1/event-types) or published yet. Type them below.'),
    field('f-other', 'Other types or patterns', other, 'Comma-separated, e.g. invoice.paid, deal.*'),
    h('label', { class: 'check', for: 'f-register' }, register, 'Add new exact types to the org\'s catalogue'),
    h('span', { class: 'ferr', id: 'f-events-err', role: 'alert' }));
  form.appendChild(evSet);

  // --- auth and headers
  const authType = select('auth_type', AUTH, ep?.auth?.type || 'none');
  const keep = editing ? 'leave empty to keep the current value' : '';
  const user = h('input', { name: 'username', autocomplete: 'off', placeholder: keep });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', placeholder: keep });
  const key = h('input', { name: 'key', type: 'password', autocomplete: 'off', placeholder: keep });
  const tok = h('input', { name: 'token', type: 'password', autocomplete: 'off', placeholder: keep });
  const authFields = {
    basic: h('div', { class: 'row2' }, field('f-auth-user', 'Username', user), field('f-auth-pass', 'Password', pass)),
    api_key: field('f-auth-key', 'API key', key, 'Sent as X-API-KEY.'),
    bearer: field('f-auth-token', 'Token', tok, 'Sent as Authorization: Bearer <token>.'),
  };
  const showAuth = () => { for (const [k, el] of Object.entries(authFields)) el.hidden = authType.value !== k; };
  authType.addEventListener('change', showAuth);
  const hdrList = h('div', { id: 'f-headers', role: 'group', 'aria-label': 'Custom headers' });
  const addHeader = (k = '', v = '') => {
    const n = hdrList.children.length + 1;
    const kn = h('input', { 'aria-label': 'Header ' + n + ' name', placeholder: 'X-Team', value: k, class: 'hdr-name' });
    const vn = h('input', { 'aria-label': 'Header ' + n + ' value', placeholder: 'sales', value: v, class: 'hdr-value' });
    const rm = h('button', { type: 'button', 'aria-label': 'Remove header ' + n }, 'Remove');
    const row = h('div', { class: 'hdr-row' }, kn, vn, rm);
    rm.addEventListener('click', () => { row.remove(); });
    hdrList.appendChild(row);
    return kn;
  };
  for (const [k, v] of Object.entries(ep?.headers || {})) addHeader(k, v);
  const addBtn = h('button', { type: 'button', id: 'f-add-header' }, 'Add header');
  addBtn.addEventListener('click', () => addHeader().focus());
  form.appendChild(h('fieldset', {}, h('legend', {}, 'Authentication and headers'),
    field('f-auth-type', 'Auth type', authType, editing && ep?.auth?.type && ep.auth.type !== 'none' ? 'Credentials are never shown again; fill them in only to change them.' : 'Sent with every delivery, besides the signature.'),
    authFields.basic, authFields.api_key, authFields.bearer,
    h('h3', {}, 'Custom headers'), hdrList, h('span', { class: 'ferr', id: 'f-headers-err', role: 'alert' }), addBtn));
  showAuth();

  // --- signing and format
  const sigHeader = h('input', { name: 'signature_header', value: ep?.signature_header || '', placeholder: 'X-Webhook-Signature', autocomplete: 'off' });
  const sigFormat = select('signature_format', SIGFMT, ep?.signature_format || 'sha256=hex');
  const payload = select('payload_format', PAYLOADS, ep?.payload_format || 'hookq');
  const secret = h('input', { name: 'secret', autocomplete: 'off', placeholder: 'leave empty to generate whsec_…' });
  form.appendChild(h('fieldset', {}, h('legend', {}, 'Signature and payload'),
    h('div', { class: 'row2' },
      field('f-sig-header', 'Signature header', sigHeader, 'Empty = the deployment default.'),
      field('f-sig-format', 'Signature format', sigFormat)),
    field('f-payload', 'Payload format', payload),
    editing ? h('p', { class: 'muted' }, 'To change the secret, use Rotate secret on the endpoint page.')
      : field('f-secret', 'Secret (optional)', secret, '16–256 printable characters, if your receivers already use one. Shown once after saving.')));

  // --- delivery
  const timeout = h('input', { name: 'timeout_ms', type: 'number', min: 1000, max: 30000, step: 100, value: ep?.timeout_ms ?? '', placeholder: 'default' });
  const rate = h('input', { name: 'rate_limit_per_sec', type: 'number', min: 0, max: 100000, value: ep?.rate_limit_per_sec || '', placeholder: 'no limit' });
  const retry = h('input', { name: 'retry_schedule', value: ep?.retry_schedule || '', placeholder: '1m,5m,30m,2h,6h', autocomplete: 'off' });
  form.appendChild(h('fieldset', {}, h('legend', {}, 'Delivery'),
    h('div', { class: 'row2' },
      field('f-timeout', 'Timeout (ms)', timeout, '1000–30000; empty = HOOKQ_TIMEOUT.'),
      field('f-rate', 'Rate limit (per second)', rate, 'Empty or 0 = none.')),
    field('f-retry', 'Retry schedule', retry, 'Delays after each failed attempt; empty = HOOKQ_RETRY_SCHEDULE.')));

  const submit = h('button', { type: 'submit', class: 'primary', id: 'f-submit' }, editing ? 'Save changes' : 'Create endpoint');
  form.appendChild(h('div', { class: 'actions' }, submit, h('a', { class: 'button', href: back }, 'Cancel')));
  main.appendChild(topErr);
  main.appendChild(form);

  const clearErrors = () => {
    topErr.hidden = true;
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of form.querySelectorAll('.ferr')) el.textContent = '';
  };
  const showError = (fieldName, message) => {
    const map = {
      url: 'f-url', name: 'f-name', description: 'f-desc', auth: 'f-auth-type', 'auth.type': 'f-auth-type',
      'auth.username': 'f-auth-user', 'auth.password': 'f-auth-pass', 'auth.key': 'f-auth-key', 'auth.api_key': 'f-auth-key',
      'auth.value': 'f-auth-key', 'auth.token': 'f-auth-token', signature_header: 'f-sig-header', signature_format: 'f-sig-format',
      payload_format: 'f-payload', timeout_ms: 'f-timeout', rate_limit_per_sec: 'f-rate', retry_schedule: 'f-retry', secret: 'f-secret',
    };
    const f = fieldName || '';
    let target = null, errEl = null;
    if (f === 'events' || f.startsWith('events[') || f === 'other') { errEl = document.getElementById('f-events-err'); target = boxes[0] || other; }
    else if (f.startsWith('headers')) { errEl = document.getElementById('f-headers-err'); target = hdrList.querySelector('input') || addBtn; }
    else if (map[f]) { target = document.getElementById(map[f]); errEl = document.getElementById(map[f] + '-err'); }
    topErr.textContent = 'Not saved: ' + message;
    topErr.hidden = false;
    if (errEl) errEl.textContent = message;
    if (target) { if (target.tagName === 'INPUT' || target.tagName === 'SELECT') target.setAttribute('aria-invalid', 'true'); target.focus(); }
    else topErr.scrollIntoView({ block: 'center' });
  };

  form.addEventListener('input', (ev) => {
    const el = ev.target;
    if (el.getAttribute('aria-invalid')) {
      el.removeAttribute('aria-invalid');
      const err = document.getElementById(el.id + '-err');
      if (err) err.textContent = '';
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const events = boxes.filter((b) => b.checked).map((b) => b.value);
    const extras = other.value.split(',').map((s) => s.trim()).filter(Boolean);
    for (const x of extras) if (!events.includes(x)) events.push(x);
    if (!url.value.trim()) { showError('url', 'the URL is required'); return; }
    if (events.length === 0) { showError('events', 'choose at least one event type or wildcard (or * for all)'); return; }
    const body = { url: url.value.trim(), name: name.value.trim() || null, description: desc.value.trim() || null, events, is_active: active.checked };
    if (!editing) { body.org_id = ctx.org; if (!body.name) delete body.name; if (!body.description) delete body.description; }
    // auth: sent on create, or on edit when the type changed or a credential was typed
    const at = authType.value;
    const creds = at === 'basic' ? { username: user.value, password: pass.value } : at === 'api_key' ? { key: key.value } : at === 'bearer' ? { token: tok.value } : {};
    const typed = Object.values(creds).some((v) => v !== '');
    if (!editing || at !== (ep.auth?.type || 'none') || typed) body.auth = { type: at, ...creds };
    const headers = {};
    for (const row of hdrList.children) {
      const k = row.querySelector('.hdr-name').value.trim(), v = row.querySelector('.hdr-value').value;
      if (k) headers[k] = v;
    }
    if (editing || Object.keys(headers).length) body.headers = headers;
    const sh = sigHeader.value.trim();
    if (sh || editing) body.signature_header = sh || null;
    body.signature_format = sigFormat.value;
    body.payload_format = payload.value;
    const num = (el) => (el.value.trim() === '' ? null : Number(el.value));
    if (num(timeout) !== null || editing) body.timeout_ms = num(timeout);
    if (num(rate) !== null || editing) body.rate_limit_per_sec = num(rate);
    if (retry.value.trim() || editing) body.retry_schedule = retry.value.trim() || null;
    if (!editing && secret.value.trim()) body.secret = secret.value.trim();

    submit.disabled = true;
    submit.textContent = editing ? 'Saving…' : 'Creating…';
    try {
      const res = editing ? await api('PATCH', `/v1/endpoints/${enc(id)}?org_id=${enc(ctx.org)}`, body) : await api('POST', '/v1/endpoints', body);
      if (register.checked) {
        const fresh = extras.filter((x) => !x.includes('*') && !types.includes(x));
        await Promise.all(fresh.map((t) => api('POST', '/v1/event-types', { org_id: ctx.org, type: t }).catch(() => null)));
      }
      if (!editing) stashSecret(res.id, res.secret);
      toast(editing ? 'Changes saved' : 'Endpoint created');
      ctx.go('#/orgs/' + enc(ctx.org) + '/endpoints/' + enc(res.id));
    } catch (e) {
      submit.disabled = false;
      submit.textContent = editing ? 'Save changes' : 'Create endpoint';
      if (e instanceof ApiError && e.field) showError(e.field, e.message);
      else { topErr.textContent = describe(e); topErr.hidden = false; topErr.focus?.(); }
    }
  });
  url.focus();
}
