// cards.js — one card per connector: health, status, what it is, how it
// has been doing, when it runs next, and its actions. The card's buttons
// carry data-action; main.js handles them for the whole grid.
import { h } from './dom.js';
import { localTime, ago, inZone } from './time.js';

const OK = new Set(['SUCCESS', 'PARTIAL_SUCCESS']);

// green: last run succeeded (or partly: some records loaded); amber:
// running, queued or late; red: failed, or loaded nothing because every
// record was rejected; grey: never run.
// A queued run of a paused connector waits for the resume (the workers
// claim only TEST runs of paused connectors): nothing is moving.
export function held(c) {
  const a = c.active_run;
  return c.status === 'PAUSED' && !!a && a.status === 'QUEUED' && a.run_type !== 'TEST';
}

export function health(c, now = Date.now()) {
  const active = c.active_run;
  if (active && held(c)) return { color: 'amber', text: 'Queued, held until the connector is resumed' };
  if (active) return { color: 'amber', text: active.status === 'RUNNING' ? 'Running' : 'Queued' };
  if (c.status !== 'PAUSED' && c.schedule_enabled && c.next_run_at && Date.parse(c.next_run_at) < now - 5 * 60000) {
    return { color: 'amber', text: 'Late' };
  }
  if (c.last_run_status === 'FAILED' || c.status === 'FAILED') return { color: 'red', text: 'Last run failed' };
  // For reconciliation a day without data, as for the server, which raises
  // a REJECTED alert for it.
  if (allRejected(c)) return { color: 'red', text: 'Last run loaded nothing: every record rejected' };
  if (OK.has(c.last_run_status)) return { color: 'green', text: c.last_run_status === 'SUCCESS' ? 'Last run succeeded' : 'Last run partly succeeded' };
  if (c.last_run_status === 'RUNNING') return { color: 'amber', text: 'Running' };
  return { color: 'grey', text: 'Never run' };
}

// Records the last run loaded, from last_run_details as the runner leaves it.
export function lastRecords(c) {
  const d = c.last_run_details;
  if (!d || typeof d !== 'object') return null;
  if (Number.isFinite(d.records_success)) return d.records_success;
  const parts = ['inserted', 'updated', 'unchanged'].map((k) => d[k]).filter(Number.isFinite);
  if (parts.length) return parts.reduce((a, b) => a + b, 0);
  return Number.isFinite(d.records_processed) ? d.records_processed : null;
}

// Records the last run rejected: the sink's and the driver's record errors.
export function lastRejected(c) {
  const d = c.last_run_details;
  if (!d || typeof d !== 'object') return null;
  if (Number.isFinite(d.records_failed)) return d.records_failed;
  const parts = ['rejected', 'driver_record_errors'].map((k) => d[k]).filter(Number.isFinite);
  return parts.length ? parts.reduce((a, b) => a + b, 0) : null;
}

// A PARTIAL_SUCCESS that loaded nothing: records_success 0 and
// records_failed > 0, the server's REJECTED alert. When no record reached
// the load there are no load counts: nothing was loaded.
export function allRejected(c) {
  if (c.last_run_status !== 'PARTIAL_SUCCESS') return false;
  return (lastRejected(c) || 0) > 0 && (lastRecords(c) ?? 0) === 0;
}

function stat(label, ...value) {
  return h('div', { class: 'stat' }, h('dt', {}, label), h('dd', {}, value));
}

function btn(action, text, c, extra = {}) {
  return h('button', {
    type: 'button', class: `btn btn-sm${extra.cls ? ` ${extra.cls}` : ''}`, dataset: { action, id: c.id },
    'aria-label': `${text} ${c.name}`, disabled: extra.disabled || null, title: extra.title || null,
  }, text);
}

export function renderCard(c, now = Date.now()) {
  const hl = health(c, now);
  const paused = c.status === 'PAUSED';
  const active = c.active_run;
  const zone = c.schedule_timezone || 'Asia/Kolkata';
  const records = lastRecords(c);
  const rejected = allRejected(c) ? lastRejected(c) : 0;
  const next = c.next_run_at
    ? [h('time', { datetime: c.next_run_at }, inZone(zone, Date.parse(c.next_run_at))), h('span', { class: 'muted' }, ` ${zone}`)]
    : [h('span', { class: 'muted' }, paused ? 'paused' : (c.schedule_enabled ? '—' : 'not scheduled'))];
  const last = c.last_run_at
    ? [h('time', { datetime: c.last_run_at }, localTime(c.last_run_at)), h('span', { class: 'muted' }, ` (${ago(c.last_run_at, now)})`)]
    : [h('span', { class: 'muted' }, 'never')];
  const runState = active
    ? h('p', { class: `run-state run-${active.status.toLowerCase()}`, dataset: held(c) ? { state: active.status, held: 'yes' } : { state: active.status } },
      held(c) ? null : h('span', { class: 'spinner', 'aria-hidden': 'true' }), `${active.run_type || 'Run'} ${active.status.toLowerCase()}`,
      active.run_date ? ` for ${active.run_date}` : '', held(c) ? ' — held while paused: resume to run it' : '')
    : (c.last_run_status
      ? h('p', { class: `run-state run-${c.last_run_status.toLowerCase()}${rejected ? ' run-rejected' : ''}`, dataset: { state: c.last_run_status } },
        `Last run: ${c.last_run_status.replace('_', ' ').toLowerCase()}`,
        rejected ? ` — loaded nothing, ${rejected} record${rejected === 1 ? '' : 's'} rejected` : '')
      : h('p', { class: 'run-state', dataset: { state: 'NONE' } }, 'No runs yet'));
  const pauseNote = paused ? 'Resume it first' : null;
  // id: the target of an alert's link (#connector-ID); focusable for it.
  return h('article', {
    class: `card health-${hl.color}`, id: `connector-${c.id}`, tabindex: '-1', dataset: { id: c.id, name: c.name }, 'aria-labelledby': `card-${c.id}-name`,
  },
    h('header', { class: 'card-head' },
      h('span', { class: `dot dot-${hl.color}`, role: 'img', 'aria-label': hl.text, title: hl.text }),
      h('h3', { id: `card-${c.id}-name` }, c.name),
      h('span', { class: `badge badge-${String(c.status).toLowerCase()}` }, c.status)),
    h('p', { class: 'card-kind' }, `${c.connector_type} • ${c.source_entity}`, h('span', { class: 'muted' }, ` — driver ${c.driver || c.connector_type.toLowerCase()}`)),
    runState,
    h('dl', { class: 'stats' },
      stat('Success rate', `${c.success_rate ?? 0}%`, h('span', { class: 'muted' }, ` of ${c.total_runs || 0}`)),
      stat('Last run', ...last),
      stat('Next run', ...next),
      stat('Records (last run)', records === null ? '—' : String(records))),
    h('div', { class: 'card-actions' },
      btn('test', 'Test', c),
      btn('run', 'Run', c, { disabled: paused || !!active, title: pauseNote || (active ? 'A run is in progress' : null) }),
      btn('history', 'History', c),
      btn('backfill', 'Backfill', c, { disabled: paused, title: pauseNote }),
      btn('edit', 'Edit', c),
      paused ? btn('resume', 'Resume', c) : btn('pause', 'Pause', c),
      btn('delete', 'Delete', c, { cls: 'btn-danger-outline' })));
}
