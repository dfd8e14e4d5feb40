// cronview.js — the schedule preview under the cron field: what the
// expression means in words and its next five runs in the chosen zone.
import { h, fill } from './dom.js';
import { parse, describe, nextRuns } from './cron.js';
import { inZone, validZone } from './time.js';

export function cronPreview(el, expr, zone, enabled) {
  if (!enabled) { fill(el, h('p', { class: 'muted' }, 'Not scheduled: runs only when started by hand.')); return; }
  if (!String(expr || '').trim()) { fill(el, h('p', { class: 'muted' }, 'Enter a cron expression.')); return; }
  let c;
  try {
    c = parse(expr);
  } catch (e) {
    fill(el, h('p', { class: 'cron-bad' }, `Not a valid schedule: ${e.message}`));
    return;
  }
  const z = String(zone || '').trim() || 'Asia/Kolkata';
  if (!validZone(z)) {
    fill(el, h('p', {}, describe(c)), h('p', { class: 'cron-bad' }, `Unknown time zone "${z}"`));
    return;
  }
  const next = nextRuns(c, z, 5);
  fill(el,
    h('p', { class: 'cron-text' }, `${describe(c)} (${z})`),
    next.length
      ? h('ol', { class: 'cron-next', 'aria-label': `Next ${next.length} runs` }, next.map((t) => h('li', {}, h('time', { datetime: new Date(t).toISOString() }, inZone(z, t)))))
      : h('p', { class: 'cron-bad' }, 'No run within 8 years.'));
}
