// fields.js — inputs generated from a driver's JSON Schema for
// connection_config. Each node knows how to show itself, read its value
// back and show the server's errors for its path
// ("connection_config.pagination.page_size"). Secret fields (writeOnly)
// are password inputs that are never pre-filled: the API only ever sends
// "********" for them, and sending the mask back keeps the stored value.
import { h, uid } from './dom.js';
import { parseJSON, isRawNumber, valueText } from './api.js';

const MASK = '********';

const isSecretRef = (v) => v && typeof v === 'object' && !Array.isArray(v)
  && Object.keys(v).length === 1 && typeof v.secret === 'string';

function typeOf(s) {
  if (!s || typeof s !== 'object') return 'any';
  if (s.writeOnly) return 'secret';
  if (Array.isArray(s.enum)) return 'enum';
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (t === 'object') {
    if (s.properties) return 'object';
    if (s.additionalProperties && typeof s.additionalProperties === 'object'
      && s.additionalProperties.type === 'string') return 'map';
    return 'json';
  }
  if (t === 'array') return s.items && s.items.type === 'string' ? 'list' : 'json';
  if (t === 'integer' || t === 'number' || t === 'boolean' || t === 'string') return t;
  return 'json';
}

// Fields the core sets itself and never stores: not for people to type.
const hidden = (s) => typeof s.description === 'string' && /^Set by connectord/.test(s.description);

function labelText(key) {
  return key.replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());
}

// The wrapper every leaf shares: label, required mark, hint, error slot.
function frame(key, schema, required, control, id, extraHint) {
  const hintId = `${id}-hint`;
  const errId = `${id}-err`;
  const hintText = [schema.description, extraHint].filter(Boolean).join(' · ');
  const err = h('p', { class: 'field-error', id: errId, hidden: true });
  const described = [hintText ? hintId : null, errId].filter(Boolean).join(' ');
  for (const c of control.inputs) {
    c.setAttribute('aria-describedby', described);
    if (required) c.setAttribute('aria-required', 'true');
  }
  const el = h('div', { class: `field field-${control.kind}`, dataset: { key } },
    h('label', { for: id }, labelText(key), required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null,
      required ? h('span', { class: 'sr-only' }, ' (required)') : null),
    control.el,
    hintText ? h('p', { class: 'hint', id: hintId }, hintText) : null,
    err);
  return {
    el,
    setError(msgs) {
      err.hidden = !msgs.length;
      err.textContent = msgs.join('; ');
      for (const c of control.inputs) c.setAttribute('aria-invalid', msgs.length ? 'true' : 'false');
      el.classList.toggle('has-error', msgs.length > 0);
    },
  };
}

function defaultHint(schema) {
  return schema.default !== undefined ? `Default: ${JSON.stringify(schema.default)}` : '';
}

// One leaf field. Returns {el, collect, setError, path}.
function leaf(key, schema, required, value, ctx, path) {
  const kind = typeOf(schema);
  const id = uid('cfg');
  let control; let read;
  let extra = defaultHint(schema);
  if (kind === 'enum') {
    const sel = h('select', { id, name: path });
    if (!required || schema.default === undefined) sel.append(h('option', { value: '' }, schema.default !== undefined ? `(default: ${schema.default})` : '—'));
    for (const v of schema.enum) sel.append(h('option', { value: String(v) }, String(v)));
    sel.value = value !== undefined ? valueText(value) : (required && schema.default !== undefined ? String(schema.default) : '');
    control = { el: sel, inputs: [sel], kind };
    read = () => (sel.value === '' ? undefined : schema.enum.find((v) => String(v) === sel.value));
    extra = '';
  } else if (kind === 'boolean') {
    const cb = h('input', { id, name: path, type: 'checkbox' });
    cb.checked = value !== undefined ? !!value : !!schema.default;
    control = { el: cb, inputs: [cb], kind };
    // Only a choice that differs from the default is written down.
    read = () => (value === undefined && cb.checked === !!schema.default ? undefined : cb.checked);
  } else if (kind === 'secret') {
    const stored = value !== undefined && value !== null;
    const isRef = isSecretRef(value);
    const input = h('input', {
      id, name: path, type: isRef ? 'text' : 'password', autocomplete: 'new-password', spellcheck: 'false',
      placeholder: stored && !isRef ? 'stored — leave empty to keep' : (isRef ? 'env:NAME, file:/path or cred:NAME' : ''),
    });
    if (isRef) input.value = value.secret; // a reference names where the secret is, not the secret
    const refId = uid('ref');
    const ref = h('input', { id: refId, type: 'checkbox', checked: isRef });
    let toggled = false;
    ref.addEventListener('change', () => {
      toggled = true;
      // What was typed for one kind is wrong for the other: a reference
      // left in a password input would be saved as the secret, and text
      // typed after it appended to it.
      input.value = '';
      input.type = ref.checked ? 'text' : 'password';
      input.placeholder = ref.checked
        ? `env:NAME, file:/path or cred:NAME${stored ? ' — leave empty to keep the stored one' : ''}`
        : (stored ? 'stored — leave empty to keep' : '');
    });
    control = {
      el: h('div', { class: 'secret-row' }, input,
        h('label', { class: 'inline', for: refId }, ref, ' reference')),
      inputs: [input, ref],
      kind,
    };
    read = () => {
      const v = input.value;
      if (v) return ref.checked ? { secret: v } : v;
      // The PUT replaces connection_config whole: an omitted field is a
      // deleted secret. The mask keeps what is stored, plaintext or
      // reference. Only a reference cleared by hand (it was shown, not
      // hidden) means "remove it".
      if (stored && ctx.editing && (!isRef || toggled)) return MASK;
      return undefined;
    };
    extra = 'Secret: never shown again after saving.';
  } else if (kind === 'list') {
    const input = h('input', { id, name: path, type: 'text', value: Array.isArray(value) ? value.map(valueText).join(', ') : '' });
    control = { el: input, inputs: [input], kind };
    read = () => {
      const items = input.value.split(',').map((s) => s.trim()).filter(Boolean);
      return items.length ? items : undefined;
    };
    extra = ['Comma-separated', extra].filter(Boolean).join('. ');
  } else if (kind === 'map' || kind === 'json') {
    const text = kind === 'map'
      ? Object.entries(value || {}).map(([k, v]) => `${k} = ${valueText(v)}`).join('\n')
      : (value === undefined ? '' : JSON.stringify(value, null, 2));
    const ta = h('textarea', { id, name: path, rows: kind === 'map' ? 4 : 3, spellcheck: 'false', value: text });
    control = { el: ta, inputs: [ta], kind };
    read = () => {
      const t = ta.value.trim();
      if (!t) return undefined;
      if (kind === 'json') {
        try { return parseJSON(t, true); } catch { throw new FieldError(path, 'is not valid JSON'); }
      }
      const m = {};
      for (const line of t.split('\n')) {
        if (!line.trim()) continue;
        const i = line.indexOf('=');
        if (i < 1) throw new FieldError(path, `line "${line.trim()}" is not "key = value"`);
        m[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
      return m;
    };
    extra = [kind === 'map' ? 'One "key = value" a line' : 'JSON', extra].filter(Boolean).join('. ');
  } else {
    const numeric = kind === 'integer' || kind === 'number';
    // Multi-line text (an HMAC canonical string) needs a textarea: an
    // input drops the newlines of the value it is given.
    const multiline = (v) => typeof v === 'string' && v.includes('\n');
    const long = key === 'query' || (schema.maxLength || 0) > 500 || multiline(schema.default) || multiline(value);
    const attrs = {
      id, name: path, spellcheck: 'false',
      value: value === undefined || value === null ? '' : valueText(value),
      placeholder: schema.default !== undefined && schema.default !== '' ? String(schema.default) : null,
    };
    let input;
    if (long) input = h('textarea', { ...attrs, rows: 3 });
    else input = h('input', { ...attrs, type: numeric ? 'number' : 'text', inputmode: numeric ? 'numeric' : null, step: kind === 'integer' ? 1 : (numeric ? 'any' : null), min: schema.minimum ?? null, max: schema.maximum ?? null });
    control = { el: input, inputs: [input], kind };
    // A one-character value (a CSV delimiter) may be a tab or a space:
    // trimmed, it would read as empty and the driver's default would win.
    const single = schema.maxLength === 1;
    read = () => {
      // Chromium reports "1e" or "--5" in a number input as value "" with
      // badInput: read as empty, the field would be left out and the
      // stored setting deleted.
      if (numeric && input.validity && input.validity.badInput) throw new FieldError(path, 'is not a number');
      const t = single ? input.value : input.value.trim();
      if (t === '') return undefined;
      if (numeric) {
        // Read as JSON reads it: an integer too long for JavaScript is
        // sent as typed, not rounded (what else JSON cannot hold, 1e400,
        // goes to the server as text, whose error names the field).
        try {
          const v = parseJSON(t, true);
          if (typeof v === 'number' || (isRawNumber(v) && /^-?\d+$/.test(v.rawJSON))) return v;
        } catch { /* not JSON's spelling of a number: as below */ }
        const n = Number(t);
        // Hand a non-number to the server as typed: its error names the field.
        return Number.isFinite(n) ? n : t;
      }
      return input.value;
    };
  }
  const f = frame(key, schema, required, control, id, extra);
  return { el: f.el, setError: f.setError, collect: read, path, inputs: control.inputs };
}

export class FieldError extends Error {
  constructor(field, message) { super(message); this.field = field; }
}

// A group of properties (the root or a nested object).
function group(schema, value, ctx, path, registry, depth) {
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const children = [];
  const el = h('div', { class: 'fields' });
  const keys = Object.keys(props).filter((k) => !hidden(props[k]));
  // Required first, then the schema's order.
  keys.sort((a, b) => Number(required.has(b)) - Number(required.has(a)));
  for (const key of keys) {
    const s = props[key];
    const p = `${path}.${key}`;
    const v = value ? value[key] : undefined;
    if (typeOf(s) === 'object') {
      const sub = group(s, v, ctx, p, registry, depth + 1);
      const open = required.has(key) || (v && Object.keys(v).length > 0);
      const box = h('details', { class: 'subgroup', open: !!open },
        h('summary', {}, labelText(key), required.has(key) ? ' *' : '', s.description ? h('span', { class: 'hint' }, ` — ${s.description}`) : null),
        sub.el);
      el.append(box);
      registry.set(p, { setError: sub.setOwnError, el: box });
      children.push([key, () => sub.collect()]);
    } else {
      const f = leaf(key, s, required.has(key), v, ctx, p);
      registry.set(p, f);
      el.append(f.el);
      children.push([key, f.collect]);
    }
  }
  // Keys a permissive schema allows but does not describe: kept, editable as JSON.
  let extraBox = null;
  if (schema.additionalProperties !== false && typeOf(schema) === 'object') {
    const rest = {};
    for (const [k, v] of Object.entries(value || {})) if (!(k in props)) rest[k] = v;
    const id = uid('extra');
    const ta = h('textarea', { id, rows: 3, spellcheck: 'false', value: Object.keys(rest).length ? JSON.stringify(rest, null, 2) : '' });
    extraBox = h('div', { class: 'field field-json' },
      h('label', { for: id }, 'Other settings (JSON object)'), ta,
      h('p', { class: 'hint' }, 'Keys this driver accepts beyond the fields above.'));
    el.append(extraBox);
    children.push([null, () => {
      const t = ta.value.trim();
      if (!t) return undefined;
      let o;
      try { o = parseJSON(t, true); } catch { throw new FieldError(path, 'Other settings is not valid JSON'); }
      if (!o || typeof o !== 'object' || Array.isArray(o) || isRawNumber(o)) throw new FieldError(path, 'Other settings must be a JSON object');
      return o;
    }]);
  }
  const ownErr = h('p', { class: 'field-error', hidden: true });
  el.prepend(ownErr);
  return {
    el,
    setOwnError(msgs) { ownErr.hidden = !msgs.length; ownErr.textContent = msgs.join('; '); },
    collect() {
      const out = {};
      for (const [key, read] of children) {
        const v = read();
        if (v === undefined) continue;
        if (key === null) Object.assign(out, v); else out[key] = v;
      }
      return Object.keys(out).length || depth === 0 ? out : undefined;
    },
  };
}

// buildConfigFields(schema, value, {editing}) -> {el, collect(), showErrors(errors) -> unplaced}
export function buildConfigFields(schema, value, ctx) {
  const registry = new Map();
  const root = group(schema || { type: 'object' }, value, ctx, 'connection_config', registry, 0);
  registry.set('connection_config', { setError: root.setOwnError });
  return {
    el: root.el,
    collect: () => root.collect(),
    registry,
    paths: () => [...registry.keys()],
  };
}

// The registered node an error path belongs to: "a.b[2].c" -> "a.b" when
// only "a.b" has an input.
export function placeError(registry, field) {
  let p = String(field || '');
  while (p) {
    if (registry.has(p)) return p;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return null;
}
