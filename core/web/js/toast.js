// toast.js — short notices in a live region (screen readers hear them).
// Errors stay until dismissed; successes fade after a while.
import { h } from './dom.js';

function region() {
  let r = document.getElementById('toasts');
  if (!r) {
    r = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(r);
  }
  return r;
}

// toast('Saved', {kind: 'ok'|'error'|'info', body: [nodes], timeout: ms})
export function toast(title, { kind = 'info', body = [], timeout } = {}) {
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, '×');
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : null },
    h('div', { class: 'toast-head' }, h('strong', {}, title), close),
    body.length ? h('div', { class: 'toast-body' }, body) : null);
  close.addEventListener('click', () => el.remove());
  region().append(el);
  const ms = timeout ?? (kind === 'error' ? 0 : 6000);
  if (ms) setTimeout(() => el.remove(), ms);
  return el;
}

export function errorToast(what, err) {
  const items = (err.errors || []).map((e) => h('li', {}, e.field ? `${e.field}: ${e.message}` : `${e.message}`));
  return toast(`${what}: ${err.message}`, { kind: 'error', body: items.length ? [h('ul', {}, items)] : [] });
}
