// main.js — the ops page: header (counts, filter tabs, search, Refresh,
// Add), the grid of cards and their actions. The list refreshes by itself
// while a run is queued or running, backing off from 1 s to 10 s; when
// nothing moves it still reloads every minute and when the tab is shown
// again, because "Late" is judged against next_run_at and a list kept
// from an hour ago would call every healthy connector late.
import { h, fill, $ } from './dom.js';
import { api, onTokenNeeded, setToken } from './api.js';
import { askToken } from './token.js';
import { renderCard, held } from './cards.js';
import { openConnectorForm } from './form.js';
import { openHistory, openRun } from './history.js';
import { openBackfill, openRunDialog } from './backfill.js';
import { confirmDialog } from './dialogs.js';
import { toast, errorToast } from './toast.js';

onTokenNeeded(askToken);

const IDLE_MS = 60000;
// target: the id of the card an alert's link (#connector-ID) points at.
const state = { filter: '', q: '', connectors: [], timer: null, delay: 1000, loading: null, target: null };
const grid = $('#grid');
const status = $('#list-status');

function byId(id) { return state.connectors.find((c) => String(c.id) === String(id)); }

// A reload replaces every card. One landing between a button's pointerdown
// and its pointerup would turn the press into a click on the grid (the two
// ends' common ancestor), and the press would do nothing: while a pointer
// is down on the grid the cards are kept, and drawn once it is released.
let pressing = false;
let renderPending = false;
grid.addEventListener('pointerdown', () => { pressing = true; });
for (const type of ['pointerup', 'pointercancel']) {
  document.addEventListener(type, () => {
    if (!pressing) return;
    pressing = false;
    // After the click this release makes has been handled.
    if (renderPending) setTimeout(render, 0);
  }, true);
}

function render() {
  if (pressing) {
    renderPending = true;
    return;
  }
  renderPending = false;
  // Keyboard focus stays on the same button of the same card, or on the
  // same card (one an alert's link pointed at).
  const had = document.activeElement;
  let focused = null;
  if (had && grid.contains(had) && had.dataset && had.dataset.action) {
    focused = `button[data-action="${CSS.escape(had.dataset.action)}"][data-id="${CSS.escape(had.dataset.id)}"]`;
  } else if (had && had.parentElement === grid && had.id) {
    focused = `#${CSS.escape(had.id)}`;
  }
  const now = Date.now();
  fill(grid, state.connectors.map((c) => renderCard(c, now)));
  if (!state.connectors.length) {
    grid.append(h('p', { class: 'empty' }, state.filter || state.q ? 'No connector matches.' : 'No connectors yet: add one.'));
  }
  // Marked by a class: :target would miss a card drawn after the hash changed.
  const target = state.target && document.getElementById(`connector-${state.target}`);
  if (target) target.classList.add('is-target');
  if (focused) {
    const again = grid.querySelector(focused);
    if (again) again.focus();
  }
}

function renderSummary(s) {
  for (const k of ['total', 'active', 'paused', 'failed']) {
    const el = document.querySelector(`[data-count="${k}"]`);
    if (el) el.textContent = String(s[k] ?? 0);
  }
}

// Loads the list; schedules the next load while anything is moving.
// Resolves to true once this load is shown.
export async function refresh({ quiet = false } = {}) {
  clearTimeout(state.timer);
  const mine = (state.loading = {});
  let r;
  try {
    r = await api.list({ status: state.filter, q: state.q });
  } catch (e) {
    if (mine !== state.loading) return;
    if (!quiet) errorToast('Cannot load connectors', e);
    status.textContent = `Could not load: ${e.message}`;
    // Keep trying quietly: a restart of connectord should not leave the
    // page showing stale health until someone presses Refresh.
    state.timer = setTimeout(idleTick, IDLE_MS);
    return false;
  }
  if (mine !== state.loading) return false; // a newer load is on its way
  // Cards with a run the page queued a moment ago keep showing it until
  // the server lists it (it always does at once; this covers the race).
  state.connectors = r.connectors || [];
  renderSummary(r.summary || {});
  render();
  // Runs held by a pause do not move: no 1 s refreshes for them.
  const moving = state.connectors.some((c) => c.active_run && !held(c));
  status.textContent = `${state.connectors.length} shown · updated ${new Date().toLocaleTimeString()}${moving ? ' · following runs' : ''}`;
  document.body.dataset.moving = moving ? 'yes' : 'no';
  if (moving) {
    state.timer = setTimeout(() => refresh({ quiet: true }), state.delay);
    state.delay = Math.min(state.delay * 1.5, 10000);
  } else {
    state.delay = 1000;
    state.timer = setTimeout(idleTick, IDLE_MS);
  }
  // The address's #run-ID or #connector-ID, once the token is settled.
  if (hashPending) {
    hashPending = false;
    followHash();
  }
  return true;
}

// A reload replaces the cards, and the button that opened a dialog with
// them, so focus could not go back to it: wait until the dialog is closed.
function idleTick() {
  if (document.querySelector('dialog[open]')) {
    state.timer = setTimeout(idleTick, IDLE_MS);
    return;
  }
  refresh({ quiet: true });
}

function kick() {
  // Something was just started: look again soon.
  state.delay = 1000;
  refresh();
}

async function testConnector(c, button) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = 'Testing…';
  try {
    const r = await api.test(c.id);
    // A step as the runner records it (core/host.c): {step, passed, detail}.
    const steps = (r.steps || []).map((s) => {
      const ok = s.passed === true;
      return h('li', { class: ok ? 'step-ok' : 'step-bad' },
        h('span', { 'aria-hidden': 'true' }, ok ? '✓ ' : '✗ '), h('span', { class: 'sr-only' }, ok ? 'passed: ' : 'failed: '),
        h('strong', {}, s.step || ''), s.detail ? ` — ${s.detail}` : '');
    });
    const link = r.run_id ? h('button', { type: 'button', class: 'link-btn' }, `View test run ${r.run_id}`) : null;
    if (link) link.addEventListener('click', () => openRun(c, r.run_id));
    // 504 (the wait ran out) and 503 (the server is stopping) say nothing
    // about the connector: its test run goes on and has the outcome.
    if (r._status === 503 || r._status === 504) {
      toast(`Test still running: ${c.name}`, {
        kind: 'info',
        timeout: 0,
        body: [h('p', { class: 'toast-msg' }, r.error || 'The test goes on in the background.'), link],
      });
      return;
    }
    toast(r.success ? `Test passed: ${c.name}` : `Test failed: ${c.name}`, {
      kind: r.success ? 'ok' : 'error',
      timeout: r.success ? 15000 : 0,
      body: [h('p', { class: 'toast-msg' }, r.success ? r.message : r.error), steps.length ? h('ol', { class: 'steps' }, steps) : null, link],
    });
  } catch (e) {
    errorToast(`Test of ${c.name}`, e);
  } finally {
    button.disabled = false;
    button.textContent = label;
    refresh({ quiet: true });
  }
}

async function deleteConnector(c) {
  const ok = await confirmDialog('Delete connector', `Delete "${c.name}" and its run history? This cannot be undone.`, { confirmText: 'Delete', danger: true });
  if (!ok) return;
  let r;
  try {
    r = await api.remove(c.id, false);
  } catch (e) {
    if (e.status !== 409) { errorToast('Cannot delete', e); return; }
    const force = await confirmDialog('A run is in progress', `${e.message}. Cancel the run and delete?`, { confirmText: 'Cancel run and delete', danger: true });
    if (!force) return;
    try { r = await api.remove(c.id, true); } catch (e2) { errorToast('Cannot delete', e2); return; }
  }
  // Runs queued a moment before the delete go with it: say so, or a
  // backfill someone was waiting for just silently never happens.
  const gone = [];
  if (r.cancelled_runs > 0) gone.push(`${r.cancelled_runs} run${r.cancelled_runs > 1 ? 's' : ''} cancelled`);
  if (r.dropped_queued_runs > 0) gone.push(`${r.dropped_queued_runs} queued run${r.dropped_queued_runs > 1 ? 's' : ''} dropped`);
  toast(`Deleted ${c.name}`, { kind: 'ok', body: gone.length ? [h('p', { class: 'toast-msg' }, `${gone.join(', ')}.`)] : [] });
  refresh();
}

grid.addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-action]');
  if (!b) return;
  const c = byId(b.dataset.id);
  if (!c) return;
  switch (b.dataset.action) {
    case 'test': testConnector(c, b); break;
    case 'run': openRunDialog(c, (r) => {
      // Show the queued run on the card at once; the next load confirms it.
      c.active_run = { id: String(r.run_id), status: 'QUEUED', run_type: 'MANUAL' };
      render();
      kick();
    }); break;
    case 'history': openHistory(c); break;
    case 'backfill': openBackfill(c, kick); break;
    case 'edit': openConnectorForm(c.id, () => refresh()); break;
    case 'pause':
    case 'resume':
      try {
        const r = await api[b.dataset.action](c.id);
        toast(r.message || 'Done', { kind: 'ok' });
      } catch (err) { errorToast(`Cannot ${b.dataset.action}`, err); }
      refresh();
      break;
    case 'delete': deleteConnector(c); break;
    default: break;
  }
});

// Filter tabs: a group of toggle buttons (aria-pressed), one pressed.
function setFilter(f) {
  state.filter = f;
  for (const t of document.querySelectorAll('[data-filter]')) t.setAttribute('aria-pressed', String(t.dataset.filter === f));
}
for (const tab of document.querySelectorAll('[data-filter]')) {
  tab.addEventListener('click', () => {
    setFilter(tab.dataset.filter);
    refresh();
  });
}

// Alert links (core/notify_render.c) end in #connector-CID-run-RID (that
// run's detail; older alerts said #run-RID alone) or #connector-ID (its
// card). Followed on load, once the first list is in
// (and the token asked for), and on every hashchange.
let hashPending = true;

function notFound(title, why) {
  toast(title, { kind: 'error', body: [h('p', { class: 'toast-msg' }, why)] });
}

async function showConnector(id) {
  if (!document.getElementById(`connector-${id}`)) {
    const all = (await api.list({})).connectors || [];
    if (!all.some((c) => String(c.id) === id)) {
      notFound(`Connector ${id} not found`, 'The link points at a connector that does not exist (any more): it may have been deleted.');
      return;
    }
    // Hidden by the filter or the search: show them all.
    setFilter('');
    clearTimeout(searchTimer);
    $('#search').value = '';
    state.q = '';
    await refresh({ quiet: true });
  }
  const el = document.getElementById(`connector-${id}`);
  if (!el) return;
  state.target = id;
  el.classList.add('is-target');
  el.scrollIntoView({ block: 'center' });
  el.focus({ preventScroll: true });
}

// No endpoint reads a run by its id alone: ask each connector for it, the
// one running it first, then the most recently run, a few at a time.
async function showRun(id) {
  const all = (await api.list({})).connectors || [];
  const at = (c) => Date.parse(c.last_run_at || '') || 0;
  const order = [
    ...all.filter((c) => c.active_run && String(c.active_run.id) === id),
    ...all.filter((c) => !(c.active_run && String(c.active_run.id) === id)).sort((a, b) => at(b) - at(a)),
  ];
  for (let i = 0; i < order.length; i += 4) {
    const found = (await Promise.all(order.slice(i, i + 4).map((c) => api.runDetail(c.id, id, { log_limit: 1, errors_limit: 1 })
      .then(() => c, (e) => { if (e.status === 404) return null; throw e; })))).find(Boolean);
    if (found) {
      const dlg = openRun(found, id);
      // Closed, the run is no longer what the address shows.
      dlg.addEventListener('close', () => {
        if (location.hash === `#run-${id}`) history.replaceState(null, '', location.pathname + location.search);
      });
      return;
    }
  }
  notFound(`Run ${id} not found`, 'No connector has this run: it may have been deleted with its connector.');
}

// #connector-CID-run-RID, what alerts link to now: no search needed.
async function showRunOf(cid, rid) {
  const c = byId(cid) || ((await api.list({})).connectors || []).find((x) => String(x.id) === cid);
  if (!c) {
    notFound(`Connector ${cid} not found`, 'The link points at a connector that does not exist (any more): it may have been deleted.');
    return;
  }
  try {
    await api.runDetail(cid, rid, { log_limit: 1, errors_limit: 1 });
  } catch (e) {
    if (e.status !== 404) throw e;
    notFound(`Run ${rid} not found`, `${c.name} has no run ${rid}: it may have been deleted.`);
    return;
  }
  const hash = location.hash;
  const dlg = openRun(c, rid);
  dlg.addEventListener('close', () => {
    if (location.hash === hash) history.replaceState(null, '', location.pathname + location.search);
  });
}

async function followHash() {
  const both = /^#connector-([1-9]\d{0,18})-run-([1-9]\d{0,18})$/.exec(location.hash);
  const m = both ? null : /^#(run|connector)-(.*)$/.exec(location.hash);
  if (state.target && !(m && m[1] === 'connector' && m[2] === state.target)) {
    state.target = null;
    for (const el of grid.querySelectorAll('.card.is-target')) el.classList.remove('is-target');
  }
  if (both) {
    try {
      await showRunOf(both[1], both[2]);
    } catch (e) {
      errorToast(`Cannot open run ${both[2]}`, e);
    }
    return;
  }
  if (!m) return; // not an alert's link (the skip link's #grid, say)
  const [, kind, id] = m;
  const what = kind === 'run' ? 'Run' : 'Connector';
  if (!/^[1-9]\d{0,18}$/.test(id)) {
    let shown = id;
    try { shown = decodeURIComponent(id); } catch { /* shown as it is */ }
    notFound(`${what} not found`, `"${shown.slice(0, 40)}" in the address is not a ${kind} id.`);
    return;
  }
  try {
    if (kind === 'run') await showRun(id);
    else await showConnector(id);
  } catch (e) {
    errorToast(kind === 'run' ? `Cannot open run ${id}` : `Cannot show connector ${id}`, e);
  }
}

window.addEventListener('hashchange', () => {
  if (hashPending) return; // the first load follows it
  followHash();
});

let searchTimer = null;
$('#search').addEventListener('input', (e) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => { state.q = e.target.value.trim(); refresh(); }, 250);
});
$('#refresh').addEventListener('click', () => kick());
$('#add').addEventListener('click', () => openConnectorForm(null, () => refresh()));
$('#forget-token').addEventListener('click', () => {
  setToken(null);
  toast('Token forgotten for this tab', { kind: 'info' });
});

// A hidden tab's timers are throttled (to once a minute or less), so what
// it shows on coming back may be far older than IDLE_MS.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && !document.querySelector('dialog[open]')) refresh({ quiet: true });
});

refresh();
