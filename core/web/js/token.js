// token.js — asks for an API token when the server answers 401. The token
// is kept in sessionStorage (this tab, this session), never in the URL or
// in localStorage.
import { h, uid } from './dom.js';
import { makeDialog } from './dialogs.js';

let pending = null;

export function askToken(reason) {
  // Several requests may fail at once: one prompt answers them all.
  if (pending) return pending;
  pending = new Promise((resolve) => {
    const d = makeDialog('API token needed', { label: 'token' });
    const id = uid('token');
    const input = h('input', { id, type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
    const form = h('form', { method: 'dialog' },
      h('p', {}, 'This connectord requires a bearer token. It is kept for this browser tab only.'),
      reason ? h('p', { class: 'muted' }, reason) : null,
      h('div', { class: 'field' }, h('label', { for: id }, 'Token'), input));
    const ok = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Use token');
    form.append(h('div', { class: 'dialog-footer' }, ok));
    d.body.append(form);
    let value = null;
    form.addEventListener('submit', () => { value = input.value.trim() || null; });
    d.dlg.addEventListener('close', () => { pending = null; resolve(value); });
    d.open();
    input.focus();
  });
  return pending;
}
