// dom.js — building elements without innerHTML: every piece of text from
// the API goes in through textContent, so a connector named
// "<img onerror=...>" is shown, never run.

// h('button', {class: 'btn', type: 'button', onclick: fn}, 'Run')
// Attributes starting with "on" become listeners (no inline handlers: the
// server's Content-Security-Policy forbids them anyway). null/false skip.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replaces el's children.
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

let seq = 0;
// Unique ids for label/input pairs and aria-describedby.
export function uid(prefix = 'f') {
  seq += 1;
  return `${prefix}-${seq}`;
}
