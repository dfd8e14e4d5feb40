// cron.js — the same five-field cron dialect as core/cron.c (numbers,
// ranges, steps, lists, JAN..DEC and SUN..SAT names, 0 and 7 both Sunday,
// @daily and friends; day-of-month OR day-of-week when both are
// restricted), evaluated in an IANA zone with Intl.DateTimeFormat, so the
// form can preview a schedule without asking the server. The server stays
// the judge: POST /connectors/validate checks the expression too.
import { fieldsIn } from './time.js';

const MACROS = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, base: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: DAYS, base: 0 },
];

function num(text, f) {
  const up = text.toUpperCase();
  if (f.names && f.names.includes(up)) return f.names.indexOf(up) + f.base;
  if (!/^\d+$/.test(text)) throw new Error(`${f.name} field: "${text}" is not a number`);
  const n = Number(text);
  if (n < f.min || n > f.max) throw new Error(`${f.name} field: ${n} is out of range ${f.min}-${f.max}`);
  return n;
}

function parseField(text, f) {
  const set = new Set();
  for (const part of text.split(',')) {
    if (part === '') throw new Error(`${f.name} field: empty list item`);
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined) throw new Error(`${f.name} field: more than one "/"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) throw new Error(`${f.name} field: bad step "${stepText}"`);
      step = Number(stepText);
    }
    let lo; let hi;
    if (range === '*') { lo = f.min; hi = f.max; } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      lo = num(a, f); hi = num(b, f);
      if (hi < lo) throw new Error(`${f.name} field: range ${range} runs backwards`);
    } else {
      lo = num(range, f);
      hi = stepText !== undefined ? f.max : lo; // "a/n" means a-max/n
    }
    for (let v = lo; v <= hi; v += step) set.add(v);
  }
  if (f.name === 'day-of-week' && set.has(7)) { set.delete(7); set.add(0); }
  return set;
}

// parse('0 2 * * *') -> {minutes, hours, mdays, months, wdays: Set, star: {...}, text}
export function parse(expr) {
  let text = String(expr || '').trim();
  if (!text) throw new Error('empty cron expression');
  if (text.startsWith('@')) {
    const m = MACROS[text.toLowerCase()];
    if (!m) throw new Error(`unknown macro ${text}`);
    text = m;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw new Error(`expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]));
  return {
    minutes: sets[0], hours: sets[1], mdays: sets[2], months: sets[3], wdays: sets[4], parts,
    star: {
      minute: parts[0].startsWith('*'), hour: parts[1].startsWith('*'),
      mday: parts[2].startsWith('*'), wday: parts[4].startsWith('*'),
    },
  };
}

function dayMatches(c, y, m, d) {
  if (!c.months.has(m)) return false;
  const wd = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  const md = c.mdays.has(d);
  const w = c.wdays.has(wd);
  return (c.star.mday || c.star.wday) ? (md && w) : (md || w);
}

const sorted = (set) => [...set].sort((a, b) => a - b);
const offsetAt = (zone, ms) => {
  const f = fieldsIn(zone, ms);
  return Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute) - Math.floor(ms / 60000) * 60000;
};

// Instants (ms) at which wall time y-m-d h:mi happens in zone, following
// Vixie cron's rule: a fixed time in a skipped hour runs at the jump, in a
// repeated hour once; a '*' schedule skips missing minutes, repeats doubled.
function instants(c, zone, y, m, d, hh, mi) {
  const wall = Date.UTC(y, m - 1, d, hh, mi);
  const offs = new Set([offsetAt(zone, wall - 86400000), offsetAt(zone, wall), offsetAt(zone, wall + 86400000)]);
  const hits = [];
  for (const o of offs) {
    const t = wall - o;
    const f = fieldsIn(zone, t);
    if (f.year === y && f.month === m && f.day === d && f.hour === hh && f.minute === mi) hits.push(t);
  }
  hits.sort((a, b) => a - b);
  const fixed = !c.star.minute && !c.star.hour;
  if (hits.length === 0 && fixed && offs.size > 1) {
    // In a gap: the instant the clocks jump, found by bisection between the
    // readings of the wall time under the offsets before and after.
    const ts = [...offs].map((o) => wall - o).sort((a, b) => a - b);
    let lo = ts[0]; let hi = ts[ts.length - 1];
    const before = offsetAt(zone, lo);
    while (hi - lo > 60000) {
      const mid = Math.floor((lo + hi) / 120000) * 60000;
      if (offsetAt(zone, mid) === before) lo = mid; else hi = mid;
    }
    return [hi];
  }
  return fixed ? hits.slice(0, 1) : hits;
}

// The next n run instants (ms since the epoch) strictly after `after`.
export function nextRuns(c, zone, n = 5, after = Date.now()) {
  const out = [];
  const start = fieldsIn(zone, after);
  const hours = sorted(c.hours);
  const minutes = sorted(c.minutes);
  for (let i = 0; i < 366 * 8 && out.length < n + 2; i++) {
    const day = new Date(Date.UTC(start.year, start.month - 1, start.day + i));
    const y = day.getUTCFullYear(); const m = day.getUTCMonth() + 1; const d = day.getUTCDate();
    if (!dayMatches(c, y, m, d)) continue;
    for (const hh of hours) {
      if (i === 0 && hh < start.hour - 1) continue;
      for (const mi of minutes) {
        for (const t of instants(c, zone, y, m, d, hh, mi)) if (t > after) out.push(t);
        if (out.length >= n + 2) break;
      }
      if (out.length >= n + 2) break;
    }
  }
  return out.sort((a, b) => a - b).slice(0, n);
}

// Human-readable text: "At 02:00, every day", "Every 15 minutes, Monday to Friday".
const pad = (v) => String(v).padStart(2, '0');
const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December'];

function list(values, name) {
  const v = sorted(values);
  // Runs of consecutive values read as "a to b".
  const runs = [];
  for (const x of v) {
    const last = runs[runs.length - 1];
    if (last && x === last[1] + 1) last[1] = x; else runs.push([x, x]);
  }
  const words = runs.map(([a, b]) => {
    if (a === b) return name(a);
    if (b === a + 1) return `${name(a)}, ${name(b)}`;
    return `${name(a)} to ${name(b)}`;
  });
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}` : words[0];
}

function stepOf(part) {
  const m = /^\*\/(\d+)$/.exec(part);
  return m ? Number(m[1]) : 0;
}

export function describe(c) {
  const [pm, ph] = c.parts;
  let time;
  const mins = sorted(c.minutes); const hrs = sorted(c.hours);
  if (pm === '*' && ph === '*') time = 'Every minute';
  else if (stepOf(pm) && ph === '*') time = `Every ${stepOf(pm)} minutes`;
  else if (mins.length * hrs.length <= 6 && !c.star.hour) {
    time = `At ${hrs.flatMap((hh) => mins.map((mm) => `${pad(hh)}:${pad(mm)}`)).join(', ')}`;
  } else {
    const mText = pm === '*' ? 'every minute' : stepOf(pm) ? `every ${stepOf(pm)} minutes`
      : `minute ${list(c.minutes, String)}`;
    const hText = ph === '*' ? 'of every hour' : stepOf(ph) ? `of every ${stepOf(ph)} hours`
      : `past hour ${list(c.hours, (x) => pad(x))}`;
    time = `At ${mText} ${hText}`;
  }
  const parts = [time];
  const mdayAll = c.mdays.size === 31; const wdayAll = c.wdays.size === 7;
  const mdays = mdayAll ? '' : `on day ${list(c.mdays, String)} of the month`;
  const wdays = wdayAll ? '' : `on ${list(c.wdays, (x) => DAY_NAMES[x])}`;
  if (mdays && wdays) parts.push(c.star.mday || c.star.wday ? `${mdays}, ${wdays}` : `${mdays} or ${wdays}`);
  else if (mdays || wdays) parts.push(mdays || wdays);
  else parts.push('every day');
  if (c.months.size !== 12) parts.push(`in ${list(c.months, (x) => MONTH_NAMES[x - 1])}`);
  return parts.join(', ');
}
