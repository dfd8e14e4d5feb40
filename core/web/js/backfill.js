// backfill.js — queue one run per date of a range and follow them:
// per-date status, a progress bar, Cancel. Dates are the connector's
// business dates, so "today" is today in its zone.
import { h, fill, uid } from './dom.js';
import { api, ApiError } from './api.js';
import { makeDialog, confirmDialog } from './dialogs.js';
import { dateIn, addDays, daysBetween } from './time.js';
import { toast, errorToast } from './toast.js';
import { staleNote } from './stale.js';

const STATE = { QUEUED: 'queued', RUNNING: 'running', SUCCESS: 'done', PARTIAL_SUCCESS: 'done (partial)', FAILED: 'failed', CANCELLED: 'cancelled' };

function dateField(label, value, max) {
  const id = uid('bf');
  const input = h('input', { id, type: 'date', value, max, required: true });
  const err = h('p', { class: 'field-error', id: `${id}-err`, hidden: true });
  input.setAttribute('aria-describedby', err.id);
  return { input, err, el: h('div', { class: 'field' }, h('label', { for: id }, label), input, err) };
}

export function openBackfill(c, onChange) {
  const zone = c.schedule_timezone || 'Asia/Kolkata';
  const today = dateIn(zone, 0);
  const yesterday = addDays(today, -1);
  const d = makeDialog(`Backfill — ${c.name}`, { label: 'backfill' });
  const from = dateField('From date', addDays(yesterday, -4), today);
  const to = dateField('To date', yesterday, today);
  const count = h('p', { class: 'bf-count', 'aria-live': 'polite' });
  const summary = h('p', { class: 'form-errors', role: 'alert', hidden: true });
  const start = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Start backfill');
  const form = h('form', { novalidate: true },
    h('p', { class: 'muted' }, `Dates are business dates in ${zone}; today there is ${today}. One run per date, run one after another.`),
    h('div', { class: 'grid2' }, from.el, to.el), count, summary,
    h('div', { class: 'dialog-footer' }, start));

  function check() {
    const a = from.input.value; const b = to.input.value;
    const errs = [];
    if (!a) errs.push([from, 'Choose a date']);
    if (!b) errs.push([to, 'Choose a date']);
    if (a && a > today) errs.push([from, 'is in the future']);
    if (b && b > today) errs.push([to, 'is in the future']);
    if (a && b && b < a) errs.push([to, 'must not be before the from date']);
    for (const f of [from, to]) {
      const mine = errs.filter(([x]) => x === f).map(([, m]) => m);
      f.err.hidden = !mine.length;
      f.err.textContent = mine.join('; ');
      f.input.setAttribute('aria-invalid', mine.length ? 'true' : 'false');
    }
    const n = errs.length ? 0 : daysBetween(a, b);
    count.textContent = n ? `This creates ${n} run${n > 1 ? 's' : ''}, ${a} to ${b}.` : '';
    start.disabled = !n;
    return n;
  }
  form.addEventListener('input', check);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!check()) return;
    start.disabled = true;
    let r;
    try {
      r = await api.backfill(c.id, from.input.value, to.input.value);
    } catch (err) {
      start.disabled = false;
      summary.hidden = false;
      // The server knows the limit (backfill.max_days) and says so.
      summary.textContent = err instanceof ApiError && err.errors.length
        ? err.errors.map((x) => `${(x.field || '').replace('_', ' ')} ${x.message}`.trim()).join('; ') : err.message;
      return;
    }
    toast(`Backfill queued: ${r.runs} runs`, { kind: 'ok' });
    onChange();
    follow(r);
  });

  // Progress view, polled until nothing is queued or running.
  function follow(first) {
    const bar = h('progress', { max: first.runs || 1, value: 0, 'aria-label': 'Backfill progress' });
    // Focusable so the submit's focus lands on something harmless.
    const text = h('p', { class: 'bf-text', 'aria-live': 'polite', tabindex: '-1' });
    const list = h('ul', { class: 'bf-dates' });
    const cancel = h('button', { type: 'button', class: 'btn btn-danger' }, 'Cancel backfill');
    const stale = staleNote('the backfill');
    fill(d.body, h('p', { class: 'muted' }, `${first.from_date} to ${first.to_date}`), bar, text, stale.el, list);
    fill(d.footer, cancel);
    d.dlg.dataset.backfillId = first.backfill_id;
    let timer = null;
    const show = (p) => {
      // A cancelled date is counted apart from the failed ones (the five
      // counts add up to the total).
      const done = (p.succeeded || 0) + (p.failed || 0) + (p.cancelled || 0);
      bar.value = done;
      bar.max = p.total || 1;
      text.textContent = `${done} of ${p.total} finished: ${p.succeeded} done, ${p.failed} failed, ${p.cancelled || 0} cancelled, ${p.running} running, ${p.queued} queued`;
      fill(list, (p.dates || []).map((x) => {
        const st = x.cancelled ? 'CANCELLED' : String(x.status);
        return h('li', { class: `bf-${st.toLowerCase()}`, dataset: { date: x.run_date, status: x.status, cancelled: x.cancelled ? 'yes' : 'no' } },
          h('span', { class: 'bf-date' }, x.run_date), ' ',
          h('span', { class: `badge badge-${st.toLowerCase()}` }, STATE[st] || st),
          // A cancelled date loaded nothing (a cancel keeps none of its rows).
          x.status !== 'QUEUED' && !x.cancelled && x.records_success !== null && x.records_success !== undefined ? ` ${x.records_success} records` : '',
          x.error_message ? h('span', { class: 'err-cell' }, ` ${x.error_message}`) : null);
      }));
      const live = (p.queued || 0) + (p.running || 0);
      cancel.hidden = !live;
      d.dlg.dataset.finished = live ? 'no' : 'yes';
      if (!live) { text.textContent += '. Backfill finished.'; onChange(); }
      return live;
    };
    const poll = async () => {
      let p;
      try {
        p = await api.backfillGet(c.id, first.backfill_id);
      } catch (e) {
        if (!d.dlg.isConnected) return;
        // Keep following: a restart or a 502 must not freeze the progress.
        const wait = stale.failed(e);
        if (wait !== null) timer = setTimeout(poll, wait);
        return;
      }
      if (!d.dlg.isConnected) return;
      stale.ok();
      if (show(p)) timer = setTimeout(poll, 1000);
    };
    if (first.progress) show(first.progress);
    timer = setTimeout(poll, 500);
    cancel.addEventListener('click', async () => {
      const ok = await confirmDialog('Cancel backfill',
        `Cancel the backfill of ${c.name} from ${first.from_date} to ${first.to_date}? Its queued runs are dropped and a running one is stopped.`,
        { confirmText: 'Cancel backfill', danger: true });
      if (!ok) return;
      try {
        const r = await api.backfillCancel(c.id, first.backfill_id);
        toast(`${r.message}: ${r.cancelled_runs} runs`, { kind: 'ok' });
      } catch (e) { errorToast('Cannot cancel', e); }
    });
    d.dlg.addEventListener('close', () => clearTimeout(timer));
    // The Start button that had focus is gone; on Cancel backfill, a
    // second Enter would throw the whole backfill away.
    text.focus();
  }

  d.body.append(form);
  check();
  d.open();
  from.input.focus();
  return d.dlg;
}

// The Run dialog: a business date, by default the one a scheduled run
// would fetch: sync_days_back (1 unless set) days before today in the
// connector's zone.
export function openRunDialog(c, onQueued) {
  const zone = c.schedule_timezone || 'Asia/Kolkata';
  const today = dateIn(zone, 0);
  const set = c.connection_config && c.connection_config.sync_days_back;
  const back = Number.isInteger(set) && set >= 0 ? set : 1;
  const d = makeDialog(`Run — ${c.name}`, { label: 'run-now' });
  const date = dateField('Business date', addDays(today, -back), today);
  const go = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Run now');
  const when = back === 1 ? 'yesterday there' : back === 0 ? 'today there' : `${back} days back there (sync_days_back)`;
  const form = h('form', { novalidate: true },
    h('p', { class: 'muted' }, `Date in ${zone}; ${when} by default.`), date.el,
    h('div', { class: 'dialog-footer' }, go));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    go.disabled = true;
    try {
      const r = await api.run(c.id, date.input.value || undefined);
      d.dlg.close('queued');
      toast(`Run ${r.run_id} queued for ${date.input.value}`, { kind: 'ok' });
      onQueued(r);
    } catch (err) {
      go.disabled = false;
      const msg = err.errors && err.errors.length ? err.errors.map((x) => `${x.field || ''} ${x.message}`.trim()).join('; ') : err.message;
      date.err.hidden = false;
      date.err.textContent = msg;
      date.input.setAttribute('aria-invalid', 'true');
    }
  });
  d.body.append(form);
  d.open();
  date.input.focus();
  return d.dlg;
}
