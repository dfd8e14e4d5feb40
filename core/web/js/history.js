// history.js — a connector's runs (newest first, 30 a page, filtered by
// type and status) and one run's detail: attempts, log lines and record
// errors, each paginated, with Cancel while the run is queued or running.
import { h, fill, uid } from './dom.js';
import { api } from './api.js';
import { makeDialog, confirmDialog } from './dialogs.js';
import { localTime, duration } from './time.js';
import { toast, errorToast } from './toast.js';
import { staleNote } from './stale.js';

const PAGE = 30;
const LIVE = new Set(['QUEUED', 'RUNNING']);

function select(label, name, options) {
  const id = uid('hf');
  const s = h('select', { id, name }, h('option', { value: '' }, 'All'), options.map((o) => h('option', { value: o }, o)));
  return { s, el: h('div', { class: 'field inline-field' }, h('label', { for: id }, label), s) };
}

function statusBadge(s) {
  return h('span', { class: `badge badge-${String(s).toLowerCase()}` }, s);
}

export function openHistory(c) {
  const d = makeDialog(`History — ${c.name}`, { wide: true, label: 'history' });
  const type = select('Type', 'run_type', ['SCHEDULED', 'MANUAL', 'TEST', 'BACKFILL']);
  const status = select('Status', 'status', ['QUEUED', 'RUNNING', 'SUCCESS', 'PARTIAL_SUCCESS', 'FAILED']);
  const table = h('div', { class: 'table-wrap' });
  const prev = h('button', { type: 'button', class: 'btn btn-sm' }, '‹ Newer');
  const next = h('button', { type: 'button', class: 'btn btn-sm' }, 'Older ›');
  const pos = h('span', { class: 'muted', 'aria-live': 'polite' });
  // Pages by cursor (next_before), not offset: runs queued or started
  // while you page would otherwise shift every later page, showing a run
  // twice or skipping one. cursors[i] is where page i starts.
  let cursors = [null];
  let pageNo = 0;
  let nextCursor = null;
  let seq = 0;

  async function load() {
    // Filters or pages changed quickly: only the last request's answer is
    // shown, whichever arrives last.
    const mine = ++seq;
    let r;
    try {
      r = await api.history(c.id, { limit: PAGE, before: cursors[pageNo] || undefined, run_type: type.s.value, status: status.s.value });
    } catch (e) {
      if (mine === seq) errorToast('Cannot read the history', e);
      return;
    }
    if (mine !== seq) return;
    const runs = r.runs || [];
    const rows = runs.map((run) => {
      const open = h('button', { type: 'button', class: 'btn btn-sm', 'aria-label': `Details of run ${run.id}` }, 'Details');
      open.addEventListener('click', () => openRun(c, run.id));
      return h('tr', { dataset: { runId: run.id } },
        h('td', {}, run.id), h('td', {}, run.run_type), h('td', {}, run.run_date || '—'),
        h('td', {}, statusBadge(run.status)), h('td', {}, localTime(run.started_at)),
        h('td', {}, duration(run.duration_seconds)),
        h('td', { class: 'num' }, `${run.records_processed ?? 0} / ${run.records_success ?? 0} / ${run.records_failed ?? 0}`),
        h('td', { class: 'err-cell' }, run.error_message || ''), h('td', {}, open));
    });
    fill(table, runs.length
      ? h('table', { class: 'runs' },
        h('caption', { class: 'sr-only' }, `Runs of ${c.name}, newest first`),
        h('thead', {}, h('tr', {}, ['Run', 'Type', 'Date', 'Status', 'Started', 'Duration', 'Records (processed / ok / failed)', 'Error', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows))
      : h('p', { class: 'muted' }, 'No runs match.'));
    const total = r.total || 0;
    const first = pageNo * PAGE;
    pos.textContent = total && runs.length ? `${first + 1}–${first + runs.length} of ${total}` : '';
    nextCursor = r.next_before || null;
    prev.disabled = pageNo === 0;
    next.disabled = !nextCursor;
  }
  prev.addEventListener('click', () => { pageNo = Math.max(0, pageNo - 1); load(); });
  next.addEventListener('click', () => {
    if (!nextCursor) return;
    cursors[pageNo + 1] = nextCursor;
    pageNo += 1;
    load();
  });
  for (const s of [type.s, status.s]) s.addEventListener('change', () => { cursors = [null]; pageNo = 0; load(); });
  d.body.append(h('div', { class: 'filters' }, type.el, status.el), table, h('div', { class: 'pager' }, prev, pos, next));
  d.open();
  load();
  return d.dlg;
}

// A list that pages through one of a run's child collections.
function pagedSection(title, empty, render) {
  const body = h('div', {});
  const prev = h('button', { type: 'button', class: 'btn btn-sm' }, '‹ Previous');
  const next = h('button', { type: 'button', class: 'btn btn-sm' }, 'Next ›');
  const pos = h('span', { class: 'muted' });
  const el = h('section', { class: 'run-section' }, h('h3', {}, title), body, h('div', { class: 'pager' }, prev, pos, next));
  return {
    el, prev, next,
    show(page) {
      const items = (page && page.items) || [];
      fill(body, items.length ? render(items) : h('p', { class: 'muted' }, empty));
      pos.textContent = page && page.total ? `${page.offset + 1}–${page.offset + items.length} of ${page.total}` : '';
      prev.disabled = !page || page.offset === 0;
      next.disabled = !page || page.offset + items.length >= page.total;
      el.querySelector('.pager').hidden = !page || page.total <= page.limit;
    },
  };
}

export function openRun(c, runId) {
  const d = makeDialog(`Run ${runId} — ${c.name}`, { wide: true, label: 'run' });
  const head = h('div', { class: 'run-head' });
  const cancel = h('button', { type: 'button', class: 'btn btn-danger', hidden: true }, 'Cancel run');
  const q = { log_limit: 200, log_offset: 0, errors_limit: 50, errors_offset: 0 };
  const attempts = h('section', { class: 'run-section' }, h('h3', {}, 'Attempts'), h('div', {}));
  const logs = pagedSection('Log', 'No log lines.', (items) => h('ol', { class: 'log' },
    items.map((l) => h('li', { class: `log-${l.level}` }, h('time', { datetime: l.logged_at }, localTime(l.logged_at)), ' ',
      h('span', { class: 'log-level' }, l.level), ' ', l.attempt ? `#${l.attempt} ` : '', l.message))));
  const errors = pagedSection('Record errors', 'No record errors.', (items) => h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, ['Row', 'Field', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, items.map((e) => h('tr', {}, h('td', {}, e.row_ref || '—'), h('td', {}, e.field || '—'), h('td', {}, e.reason || '')))))));
  let timer = null;
  let seq = 0;
  const stale = staleNote('the run');

  async function load() {
    clearTimeout(timer);
    const mine = ++seq;
    let run;
    try {
      run = (await api.runDetail(c.id, runId, q)).run;
    } catch (e) {
      if (mine !== seq || !d.dlg.isConnected) return;
      // Keep following: a restart or a 502 must not leave RUNNING on screen.
      const wait = stale.failed(e);
      if (wait !== null) timer = setTimeout(load, wait);
      return;
    }
    if (mine !== seq || !d.dlg.isConnected) return; // a newer load is on its way
    stale.ok();
    fill(head, h('dl', { class: 'stats' },
      ...[['Status', statusBadge(run.status)], ['Type', run.run_type], ['Run date', run.run_date || '—'],
        ['Started', localTime(run.started_at)], ['Completed', localTime(run.completed_at)],
        ['Duration', duration(run.duration_seconds)], ['Attempt', `${run.attempt ?? 1} of ${run.max_attempts ?? 1}`],
        ['Records', `${run.records_processed ?? 0} processed, ${run.records_success ?? 0} ok, ${run.records_failed ?? 0} failed`],
        ['Triggered by', run.triggered_by || '—']]
        .map(([k, v]) => h('div', { class: 'stat' }, h('dt', {}, k), h('dd', {}, v)))),
    run.error_message ? h('p', { class: 'run-error', role: 'note' }, run.error_message) : null);
    d.dlg.dataset.status = run.status;
    cancel.hidden = !LIVE.has(run.status);
    const att = run.attempts || [];
    fill(attempts.lastChild, att.length
      ? h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['#', 'Status', 'Started', 'Completed', 'Worker', 'Error'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, att.map((a) => h('tr', {}, h('td', {}, a.attempt), h('td', {}, statusBadge(a.status)),
          h('td', {}, localTime(a.started_at)), h('td', {}, localTime(a.completed_at)), h('td', {}, a.worker_id || '—'),
          h('td', {}, a.error_message || ''))))))
      : h('p', { class: 'muted' }, 'Not started yet.'));
    logs.show(run.logs);
    errors.show(run.record_errors);
    // A live run is followed until it ends.
    if (LIVE.has(run.status)) timer = setTimeout(load, 1500);
  }
  logs.prev.addEventListener('click', () => { q.log_offset = Math.max(0, q.log_offset - q.log_limit); load(); });
  logs.next.addEventListener('click', () => { q.log_offset += q.log_limit; load(); });
  errors.prev.addEventListener('click', () => { q.errors_offset = Math.max(0, q.errors_offset - q.errors_limit); load(); });
  errors.next.addEventListener('click', () => { q.errors_offset += q.errors_limit; load(); });
  cancel.addEventListener('click', async () => {
    const ok = await confirmDialog('Cancel run', `Cancel run ${runId} of "${c.name}"? A running run is stopped and ends FAILED.`,
      { confirmText: 'Cancel run', danger: true });
    if (!ok) return;
    try {
      const r = await api.cancelRun(c.id, runId);
      toast(r.message || 'Cancelled', { kind: 'ok' });
    } catch (e) { errorToast('Cannot cancel', e); }
    load();
  });
  d.dlg.addEventListener('close', () => clearTimeout(timer));
  d.body.append(stale.el, head, attempts, logs.el, errors.el);
  d.footer.append(cancel);
  d.open();
  load();
  return d.dlg;
}
