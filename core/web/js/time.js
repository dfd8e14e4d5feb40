// time.js — dates and times for people: the viewer's local time, "3 h ago",
// and calendar dates in a connector's IANA zone (business dates are the
// connector's, not the browser's).

const localFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit',
});

export function localTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : localFmt.format(d);
}

export function ago(iso, now = Date.now()) {
  if (!iso) return '';
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  let t;
  if (a < 45) t = `${a} s`;
  else if (a < 3600) t = `${Math.round(a / 60)} min`;
  else if (a < 86400 * 2) t = `${Math.round(a / 3600)} h`;
  else t = `${Math.round(a / 86400)} d`;
  return future ? `in ${t}` : `${t} ago`;
}

const zoneFmts = new Map();
function zoneFmt(zone) {
  let f = zoneFmts.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', hourCycle: 'h23', weekday: 'short',
    });
    zoneFmts.set(zone, f);
  }
  return f;
}

export function validZone(zone) {
  try { zoneFmt(zone); return true; } catch { return false; }
}

// Wall-clock fields of instant ms in zone: {year, month, day, hour, minute, weekday 0=Sun}.
export function fieldsIn(zone, ms) {
  const parts = {};
  for (const p of zoneFmt(zone).formatToParts(new Date(ms))) parts[p.type] = p.value;
  const wd = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.weekday);
  return {
    year: +parts.year, month: +parts.month, day: +parts.day,
    hour: +parts.hour % 24, minute: +parts.minute, weekday: wd,
  };
}

const pad = (n) => String(n).padStart(2, '0');

// "YYYY-MM-DD" of today in zone, minus daysBack calendar days.
export function dateIn(zone, daysBack = 0, now = Date.now()) {
  const f = fieldsIn(zone, now);
  const d = new Date(Date.UTC(f.year, f.month - 1, f.day - daysBack));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function addDays(ymd, n) {
  const [y, m, d] = ymd.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

// Days from a to b inclusive ("2025-01-01", "2025-01-05" -> 5); 0 if reversed.
export function daysBetween(a, b) {
  const ms = Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`);
  return Number.isNaN(ms) || ms < 0 ? 0 : Math.round(ms / 86400000) + 1;
}

// "Mon 2025-10-06 02:00" in zone (the zone's own wall clock).
export function inZone(zone, ms) {
  const f = fieldsIn(zone, ms);
  const wd = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][f.weekday];
  return `${wd} ${f.year}-${pad(f.month)}-${pad(f.day)} ${pad(f.hour)}:${pad(f.minute)}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || seconds === '') return '—';
  const s = Number(seconds);
  if (!Number.isFinite(s)) return '—';
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function zones() {
  try { return Intl.supportedValuesOf('timeZone'); } catch { return ['Asia/Kolkata', 'UTC']; }
}
