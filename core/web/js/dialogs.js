// dialogs.js — modal <dialog>s: the browser traps focus and closes on
// Escape; we return focus to what opened the dialog, and build a confirm
// box that resolves to true or false.
import { h } from './dom.js';

// A dialog with a title bar and a close button; body and footer are for
// the caller. Removed from the document when closed.
export function makeDialog(title, { wide = false, label } = {}) {
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const close = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close' }, '×');
  const body = h('div', { class: 'dialog-body' });
  const footer = h('div', { class: 'dialog-footer' });
  const heading = h('h2', { id: titleId }, title);
  const dlg = h('dialog', { class: wide ? 'wide' : null, 'aria-labelledby': titleId, 'data-name': label || null },
    h('div', { class: 'dialog-head' }, heading, close), body, footer);
  close.addEventListener('click', () => dlg.close('cancel'));
  const opener = document.activeElement;
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  });
  // A click on the backdrop (the dialog element itself, outside its box)
  // closes it; only a press that also began there. A drag that selects
  // text in a field and is let go over the backdrop is a click on the
  // dialog element too (the two ends' common ancestor): closing then would
  // throw away a half-filled form.
  let downOnBackdrop = false;
  dlg.addEventListener('pointerdown', (e) => { downOnBackdrop = e.target === dlg; });
  dlg.addEventListener('click', (e) => {
    const fromBackdrop = downOnBackdrop;
    downOnBackdrop = false;
    if (e.target === dlg && fromBackdrop) dlg.close('cancel');
  });
  return { dlg, body, footer, heading, open() { document.body.append(dlg); dlg.showModal(); return dlg; } };
}

export function confirmDialog(title, message, { confirmText = 'OK', danger = false } = {}) {
  return new Promise((resolve) => {
    const d = makeDialog(title, { label: 'confirm' });
    d.body.append(h('p', {}, message));
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const ok = h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary' }, confirmText);
    d.footer.append(cancel, ok);
    let answer = false;
    cancel.addEventListener('click', () => d.dlg.close());
    ok.addEventListener('click', () => { answer = true; d.dlg.close(); });
    d.dlg.addEventListener('close', () => resolve(answer));
    d.open();
    cancel.focus(); // the safe choice has focus
  });
}
