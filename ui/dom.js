// Small DOM helpers: elements are built with h() (text is always set as
// text, never as HTML), plus time formatting, badges and the toast area.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

export function svg(tag, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  return el;
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

export function alertBox(text) { return h('div', { class: 'alert', role: 'alert' }, text); }

// "2026-04-12 15:32:11" in local time, with the ISO value in a <time>.
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (isNaN(d)) return h('span', {}, iso);
  return h('time', { datetime: iso, title: iso }, fmtDate(d));
}

export function fmtDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function ago(iso) {
  if (!iso) return '—';
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  const fut = s < 0, a = Math.abs(s);
  const t = a < 60 ? a + ' s' : a < 3600 ? Math.round(a / 60) + ' min' : a < 86400 ? Math.round(a / 3600) + ' h' : Math.round(a / 86400) + ' d';
  return fut ? 'in ' + t : t + ' ago';
}

const STATE = {
  delivered: 'b-ok', active: 'b-ok', pending: 'b-info', in_flight: 'b-info', retrying: 'b-warn',
  failed: 'b-warn', paused: 'b-muted', dead: 'b-bad', disabled: 'b-bad', cancelled: 'b-muted',
};
export function badge(state, label) {
  return h('span', { class: 'badge ' + (STATE[state] || 'b-muted') }, label || state.replace('_', ' '));
}

export function toast(text) {
  const box = document.getElementById('toast');
  const item = h('div', {}, text);
  box.appendChild(item);
  while (box.children.length > 2) box.firstChild.remove();
  setTimeout(() => item.remove(), 3500);
}

// A <dl> from [label, value] pairs (values may be nodes).
export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

export function pretty(text) {
  if (text === null || text === undefined || text === '') return '';
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return String(text); }
}

// Asks for confirmation in the page's <dialog>; resolves true or false.
export function confirmDialog(title, text, okLabel = 'Confirm') {
  const dlg = document.getElementById('confirm');
  dlg.querySelector('#confirm-title').textContent = title;
  dlg.querySelector('#confirm-text').textContent = text;
  dlg.querySelector('#confirm-ok').textContent = okLabel;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
  });
}

let uid = 0;
export function nextId(prefix) { uid += 1; return prefix + '-' + uid; }
