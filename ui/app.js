// The console's shell: sign-in (token asked once, kept in sessionStorage),
// the hash router (#/..., so every page is /ui/ and nothing secret is in a
// URL), the org picker, and page lifetimes (a page's timers stop when the
// user leaves it).
import { api, token, setToken, whenUnauthorized, describe, enc } from './api.js';
import { h, clear, alertBox } from './dom.js';
import { overviewPage } from './overview.js';
import { endpointsPage, endpointPage } from './endpoints.js';
import { formPage } from './form.js';
import { eventPage } from './event.js';

const main = document.getElementById('main');
const ORG_KEY = 'hookq.org';
let generation = 0;
let leaving = [];

function savedOrg() { try { return localStorage.getItem(ORG_KEY) || ''; } catch { return ''; } }
function saveOrg(org) { try { localStorage.setItem(ORG_KEY, org); } catch { /* storage off */ } }

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// The context handed to a page: alive() turns false once the user navigated
// away; onLeave(fn) registers cleanup (timers, aborts).
function makeCtx(gen, org) {
  return {
    org,
    go,
    alive: () => gen === generation,
    onLeave: (fn) => leaving.push(fn),
    setOrg: (o) => { if (o) { saveOrg(o); document.getElementById('org-input').value = o; } },
  };
}

function parse(hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  const query = new URLSearchParams(qs || '');
  return { parts, query };
}

function setNav(name) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const org = savedOrg();
  document.querySelector('[data-nav="endpoints"]').setAttribute('href', org ? '#/orgs/' + enc(org) + '/endpoints' : '#/endpoints');
}

async function route() {
  for (const fn of leaving) { try { fn(); } catch { /* ignore */ } }
  leaving = [];
  generation += 1;
  const gen = generation;
  if (!token()) { askToken(); return; }
  const { parts, query } = parse(location.hash);
  let org = '';
  if (parts[0] === 'orgs' && parts[1]) { org = parts[1]; saveOrg(org); }
  document.getElementById('org-input').value = org || savedOrg();
  const ctx = makeCtx(gen, org || savedOrg());
  clear(main);
  try {
    if (parts.length === 0) { setNav('overview'); await overviewPage(main, ctx); }
    else if (parts[0] === 'endpoints') {
      setNav('endpoints');
      if (ctx.org) { go('#/orgs/' + enc(ctx.org) + '/endpoints'); return; }
      choose_org();
    } else if (parts[0] === 'orgs' && parts[1] && parts[2] === 'endpoints') {
      setNav('endpoints');
      if (parts.length === 3) await endpointsPage(main, ctx);
      else if (parts[3] === 'new') await formPage(main, ctx, null);
      else if (parts.length === 4) await endpointPage(main, ctx, parts[3]);
      else if (parts[4] === 'edit') await formPage(main, ctx, parts[3]);
      else notFound();
    } else if (parts[0] === 'events') {
      setNav('events');
      await eventPage(main, ctx, parts[1] || '', query.get('org') || '');
    } else notFound();
  } catch (e) {
    if (gen === generation) { clear(main); main.appendChild(alertBox(describe(e))); }
  }
  // move keyboard focus to the new page's heading (unless a page focused a control itself)
  if (gen === generation && gen > 1 && !main.contains(document.activeElement)) {
    const h1 = main.querySelector('h1');
    if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: true }); }
  }
}

function choose_org() {
  main.appendChild(h('div', { class: 'page-head' }, h('h1', {}, 'Endpoints')));
  main.appendChild(h('div', { class: 'panel empty' },
    h('p', {}, 'Endpoints belong to an organisation (the org_id your application publishes events with).'),
    h('p', {}, 'Enter an org id in the "Org" box at the top to see its endpoints.')));
  document.getElementById('org-input').focus();
}

function notFound() {
  main.appendChild(h('h1', {}, 'Page not found'));
  main.appendChild(h('p', {}, h('a', { href: '#/' }, 'Back to the overview')));
}

// ---- sign-in

const dlg = document.getElementById('login');
const loginForm = document.getElementById('login-form');
const loginErr = document.getElementById('login-error');

function askToken(message) {
  clear(main);
  main.appendChild(h('p', { class: 'muted' }, 'Sign in to use the console.'));
  document.getElementById('signout').hidden = true;
  if (message) { loginErr.textContent = message; loginErr.hidden = false; }
  if (!dlg.open) dlg.showModal();
  document.getElementById('login-token').focus();
}

loginForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = document.getElementById('login-token');
  const t = input.value.trim();
  if (!t) return;
  loginErr.hidden = true;
  const btn = loginForm.querySelector('button[type="submit"]');
  btn.disabled = true;
  try {
    await api('GET', '/v1/stats', undefined, { token: t, noAuthPrompt: true });
    setToken(t);
    input.value = '';
    dlg.close();
    document.getElementById('signout').hidden = false;
    route();
  } catch (e) {
    loginErr.textContent = describe(e);
    loginErr.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  } finally {
    btn.disabled = false;
  }
});
dlg.addEventListener('cancel', (ev) => { if (!token()) ev.preventDefault(); });

whenUnauthorized(() => {
  setToken('');
  askToken('The API token was not accepted (it may have changed). Sign in again.');
});

document.getElementById('signout').addEventListener('click', () => {
  setToken('');
  askToken();
});

document.getElementById('org-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const org = document.getElementById('org-input').value.trim();
  if (!org) return;
  saveOrg(org);
  go('#/orgs/' + enc(org) + '/endpoints');
});

window.addEventListener('hashchange', route);
document.getElementById('signout').hidden = !token();
route();
