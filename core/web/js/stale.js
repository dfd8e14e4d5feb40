// stale.js — a view that follows something on the server (a run, a
// backfill) keeps following when a request fails: connectord restarting
// or a proxy's 502 is over in a few seconds, and a dialog that gave up
// would show RUNNING for ever. The note says, inside the view, that what
// it shows is stale and why; the next request is backed off from 1 s to
// 10 s, as the list's refresh is (main.js), and a success clears the note.
import { h } from './dom.js';

const FIRST_MS = 1000;
const MAX_MS = 10000;

// Worth asking again: no answer at all, the server or a proxy in front of
// it failing, or a timeout. A 404 (the run is gone) or a 401 the token
// prompt could not settle will not change by asking again.
export function transient(e) {
  const s = e && e.status;
  return !s || s >= 500 || s === 408 || s === 429;
}

function reason(e) {
  const msg = String((e && e.message) || 'no answer').slice(0, 160);
  if (!e || !e.status || /^HTTP \d+$/.test(msg)) return msg;
  return `HTTP ${e.status}: ${msg}`;
}

// staleNote('the run') → { el, failed(err) → ms to wait or null, ok() }
export function staleNote(what) {
  const el = h('p', { class: 'stale-note', role: 'status', hidden: true });
  let delay = 0;
  let since = null;
  let said = '';
  const say = (text) => {
    // A live region: only a changed text is announced again.
    if (text !== said) el.textContent = text;
    said = text;
    el.hidden = false;
  };
  return {
    el,
    // A request failed: shows why; the delay before the next one, or null
    // when asking again is pointless (the error is then shown as final).
    failed(e) {
      if (!transient(e)) {
        el.dataset.state = 'error';
        say(`Cannot read ${what}: ${reason(e)}. Not following it any more.`);
        return null;
      }
      delay = delay ? Math.min(Math.round(delay * 1.5), MAX_MS) : FIRST_MS;
      if (!since) since = new Date().toLocaleTimeString();
      el.dataset.state = 'retrying';
      say(`Could not reach connectord at ${since} (${reason(e)}); what is shown may be out of date. Retrying…`);
      return delay;
    },
    ok() {
      delay = 0;
      since = null;
      said = '';
      el.hidden = true;
      el.textContent = '';
      delete el.dataset.state;
    },
  };
}
