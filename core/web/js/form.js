// form.js — the Add / Edit connector dialog. The connection settings are
// generated from the chosen driver's JSON Schema (GET /plugins); the
// server checks everything as you type (POST /connectors/validate, errors
// shown under the fields you have touched) and again on save, when every
// error is shown and the dialog stays open until the save succeeds.
import { h, uid } from './dom.js';
import { api, ApiError } from './api.js';
import { makeDialog } from './dialogs.js';
import { buildConfigFields, placeError, FieldError } from './fields.js';
import { cronPreview } from './cronview.js';
import { zones } from './time.js';
import { toast } from './toast.js';

const TYPES = ['PG_API', 'BANK_API', 'BANK_SFTP', 'PG_DATABASE'];

let pluginsCache = null;
let templatesCache; // undefined: not asked yet; null: this server has none

// Asked again each time the form opens: a driver installed while the page
// is open is offered without reloading the page. Should that request fail,
// the list read at the last opening is used.
async function plugins() {
  try {
    pluginsCache = (await api.plugins()).loaded || [];
  } catch (e) {
    if (!pluginsCache) throw e;
  }
  return pluginsCache;
}

async function templates() {
  if (templatesCache === undefined) {
    const r = await api.templates();
    templatesCache = r && Array.isArray(r.templates) ? r.templates : null;
  }
  return templatesCache;
}

// One labelled input of the connector's own (non-driver) fields.
function coreField(label, input, { required, hint } = {}) {
  const id = input.id || uid('core');
  input.id = id;
  const err = h('p', { class: 'field-error', id: `${id}-err`, hidden: true });
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  input.setAttribute('aria-describedby', [hintEl ? `${id}-hint` : null, `${id}-err`].filter(Boolean).join(' '));
  if (required) input.setAttribute('aria-required', 'true');
  const el = h('div', { class: 'field' },
    h('label', { for: id }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null,
      required ? h('span', { class: 'sr-only' }, ' (required)') : null),
    input, hintEl, err);
  return {
    el,
    inputs: [input],
    setError(msgs) {
      err.hidden = !msgs.length;
      err.textContent = msgs.join('; ');
      input.setAttribute('aria-invalid', msgs.length ? 'true' : 'false');
      el.classList.toggle('has-error', msgs.length > 0);
    },
  };
}

// openConnectorForm(existing or null, onSaved)
export async function openConnectorForm(existingId, onSaved) {
  let loaded;
  let existing = null;
  try {
    loaded = await plugins();
    if (existingId) existing = (await api.get(existingId)).connector;
  } catch (e) {
    toast(`Cannot open the form: ${e.message}`, { kind: 'error' });
    return;
  }
  const editing = !!existing;
  const d = makeDialog(editing ? `Edit ${existing.name}` : 'Add connector', { wide: true, label: 'connector-form' });
  const form = h('form', { novalidate: true, class: 'connector-form' });
  const summary = h('div', { class: 'form-errors', role: 'alert', hidden: true });

  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off', value: existing ? existing.name : '' });
  const type = h('select', { name: 'connector_type' }, TYPES.map((t) => h('option', { value: t }, t)));
  type.value = existing ? existing.connector_type : 'PG_API';
  const driver = h('select', { name: 'driver' });
  const source = h('input', { type: 'text', name: 'source_entity', autocomplete: 'off', value: existing ? existing.source_entity : '' });
  const enabled = h('input', { type: 'checkbox', name: 'schedule_enabled', checked: existing ? existing.schedule_enabled !== false : true });
  const cron = h('input', { type: 'text', name: 'schedule_cron', autocomplete: 'off', spellcheck: 'false', value: existing ? (existing.schedule_cron || '') : '0 2 * * *' });
  const zoneList = h('datalist', { id: uid('zones') }, zones().map((z) => h('option', { value: z })));
  const zone = h('input', { type: 'text', name: 'schedule_timezone', list: zoneList.id, autocomplete: 'off', value: existing ? (existing.schedule_timezone || 'Asia/Kolkata') : 'Asia/Kolkata' });
  const preview = h('div', { class: 'cron-preview', 'aria-live': 'polite' });

  const core = {
    name: coreField('Name', name, { required: true }),
    connector_type: coreField('Type', type, { required: true }),
    driver: coreField('Driver', driver, { hint: 'Drivers loaded by this connectord for the type' }),
    source_entity: coreField('Source entity', source, { required: true, hint: 'e.g. SABPAISA, HDFC' }),
    schedule_enabled: coreField('Run on a schedule', enabled),
    schedule_cron: coreField('Schedule (cron)', cron, { hint: 'minute hour day-of-month month day-of-week, e.g. 0 2 * * *' }),
    schedule_timezone: coreField('Time zone', zone, { hint: 'IANA zone; business dates are computed in it' }),
  };
  core.schedule_enabled.el.classList.add('field-boolean');

  // Template picker (bank SFTP): only when this connectord lists templates.
  const tplSelect = h('select', { name: 'template_picker' }, h('option', { value: '' }, '— none —'));
  const tplField = coreField('Bank file template', tplSelect, { hint: 'Fills the file format from a bank template' });
  tplField.el.hidden = true;

  const configBox = h('fieldset', { class: 'config' }, h('legend', {}, 'Connection settings'));
  let cfg = null;

  // The connector's driver when this connectord has not loaded it (its
  // plugin file is missing here, or not yet installed on every host).
  function unloadedDriver() {
    if (!existing || !existing.driver || existing.connector_type !== type.value) return null;
    return loaded.some((p) => p.name === existing.driver) ? null : existing.driver;
  }

  function fillDrivers() {
    const list = loaded.filter((p) => p.category === type.value);
    const missing = unloadedDriver();
    // Offered as it is, not replaced by the first loaded driver: saving the
    // form would otherwise switch the connector to that driver.
    driver.replaceChildren(...list.map((p) => h('option', { value: p.name }, `${p.name} ${p.version || ''}`.trim())),
      ...(missing ? [h('option', { value: missing }, `${missing} (not loaded by this connectord)`)] : []));
    const want = existing && existing.connector_type === type.value ? existing.driver : type.value.toLowerCase();
    driver.value = list.some((p) => p.name === want) || want === missing ? want : (list[0] ? list[0].name : '');
    if (!list.length && !missing) driver.replaceChildren(h('option', { value: '' }, 'no driver loaded for this type'));
  }

  // Editing a connector whose driver is not loaded here: its settings
  // cannot be shown (no schema, every value masked), so they are neither
  // shown nor sent, and the save keeps them as stored.
  const keepsSettings = () => !!unloadedDriver() && driver.value === existing.driver;

  function renderConfig() {
    if (keepsSettings()) {
      cfg = { el: null, collect: () => undefined, registry: new Map() };
      configBox.replaceChildren(h('legend', {}, 'Connection settings'),
        h('p', { class: 'hint unloaded-driver' }, `This connectord has not loaded the driver ${driver.value}, so it cannot show its settings:`
          + ' a save keeps them as they are stored. Edit them on a connectord that has the driver, or with connectorctl.'));
      tplField.el.hidden = true;
      return;
    }
    const p = loaded.find((x) => x.name === driver.value);
    // Another driver's settings mean nothing to this one: start empty,
    // except when coming back to the connector's own driver.
    const sameDriver = existing && existing.driver === driver.value;
    cfg = buildConfigFields(p ? p.config_schema : { type: 'object' }, sameDriver ? existing.connection_config : undefined, { editing: sameDriver });
    configBox.replaceChildren(h('legend', {}, p ? `Connection settings — ${p.description || p.name}` : 'Connection settings'), cfg.el);
    tplField.el.hidden = !(type.value === 'BANK_SFTP' && tplSelect.options.length > 1);
  }

  function updatePreview() {
    cronPreview(preview, cron.value, zone.value, enabled.checked);
  }

  // The request body; FieldErrors for what cannot even be sent.
  function body() {
    const b = {
      name: name.value.trim(),
      connector_type: type.value,
      source_entity: source.value.trim(),
      schedule_enabled: enabled.checked,
      schedule_cron: cron.value.trim() || null,
      schedule_timezone: zone.value.trim() || null,
      connection_config: cfg.collect(),
    };
    if (driver.value && !keepsSettings()) b.driver = driver.value;
    return b;
  }

  // errors: [{field, message}]. only: the Set of paths to update while
  // typing (untouched fields stay quiet), or null on save: everything.
  function showErrors(errors, only) {
    const registry = new Map([...Object.entries(core), ...cfg.registry]);
    const byPath = new Map();
    const loose = [];
    for (const e of errors) {
      const p = placeError(registry, e.field);
      if (!p) { loose.push(e); continue; }
      if (!byPath.has(p)) byPath.set(p, []);
      byPath.get(p).push(e.message);
    }
    for (const [p, node] of registry) {
      if (only === null || only.has(p)) node.setError(byPath.get(p) || []);
    }
    if (only === null) {
      summary.replaceChildren();
      if (errors.length) {
        summary.append(h('p', {}, `${errors.length} problem${errors.length > 1 ? 's' : ''} to fix before saving.`));
        if (loose.length) summary.append(h('ul', {}, loose.map((e) => h('li', {}, e.field ? `${e.field}: ${e.message}` : e.message))));
      }
      summary.hidden = !errors.length;
    } else if (!errors.length) {
      summary.hidden = true;
    }
  }

  // Which paths the user has touched: errors show there as they type.
  const touched = new Set();
  function pathOf(target) {
    if (!target || !target.name) {
      for (const [p, node] of Object.entries(core)) if (node.inputs.includes(target)) return p;
      for (const [p, node] of cfg.registry) if (node.inputs && node.inputs.includes(target)) return p;
      return null;
    }
    return target.name;
  }

  let timer = null;
  let seq = 0;
  async function liveValidate() {
    const mine = ++seq;
    let b;
    try {
      b = body();
    } catch (e) {
      if (e instanceof FieldError) showErrors([{ field: e.field, message: e.message }], touched);
      return;
    }
    if (editing) b.id = existing.id;
    try {
      const r = await api.validate(b);
      if (mine === seq) showErrors(r.errors || [], touched);
    } catch (e) {
      // The form still works without live checks; the save reports.
      if (mine === seq && e.status !== 403) showErrors([], touched);
    }
  }
  form.addEventListener('input', (e) => {
    const p = pathOf(e.target);
    if (p) touched.add(p);
    if (e.target === cron || e.target === zone || e.target === enabled) updatePreview();
    clearTimeout(timer);
    timer = setTimeout(liveValidate, 400);
  });
  form.addEventListener('change', (e) => {
    if (e.target === type) { fillDrivers(); renderConfig(); }
    if (e.target === driver) renderConfig();
    if (e.target === enabled) updatePreview();
    if (e.target === tplSelect) applyTemplate();
  });

  let tplList = [];
  function applyTemplate() {
    const t = tplList.find((x) => x.name === tplSelect.value);
    const fmt = cfg.registry.get('connection_config.format');
    if (!t || !fmt || !fmt.inputs) return;
    // The template's format, as editable JSON: the connector may override keys.
    fmt.inputs[0].value = JSON.stringify(t.format || {}, null, 2);
    fmt.inputs[0].dispatchEvent(new Event('input', { bubbles: true }));
  }

  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, editing ? 'Save changes' : 'Create connector');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  cancel.addEventListener('click', () => d.dlg.close('cancel'));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let b;
    try {
      b = body();
    } catch (err) {
      if (err instanceof FieldError) {
        showErrors([{ field: err.field, message: err.message }], null);
        const first = form.querySelector('[aria-invalid="true"]');
        if (first) first.focus();
        return;
      }
      throw err;
    }
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const r = editing ? await api.update(existing.id, b, existing.updated_at) : await api.create(b);
      d.dlg.close('saved');
      toast(r.message || 'Saved', { kind: 'ok' });
      onSaved(r.connector);
    } catch (err) {
      if (err instanceof ApiError && err.errors.length) {
        showErrors(err.errors, null);
      } else {
        // Nothing in the form to fix (no answer, a refusal, the server
        // failing): say it was not saved and why; what was typed stays.
        showErrors([], null);
        summary.replaceChildren(h('p', {}, `Not saved: ${err.message}`));
        summary.hidden = false;
      }
      // An error of no field (someone else's change, a 500) is in the
      // summary at the top: scrolled into view, not left above the fold.
      const first = form.querySelector('[aria-invalid="true"]');
      if (first) first.focus();
      else summary.scrollIntoView({ block: 'center' });
    } finally {
      save.disabled = false;
      save.textContent = editing ? 'Save changes' : 'Create connector';
    }
  });

  const schedule = h('fieldset', { class: 'schedule' }, h('legend', {}, 'Schedule'),
    core.schedule_enabled.el, h('div', { class: 'grid2' }, core.schedule_cron.el, core.schedule_timezone.el), preview, zoneList);
  form.append(summary,
    h('div', { class: 'grid2' }, core.name.el, core.source_entity.el, core.connector_type.el, core.driver.el),
    tplField.el, schedule, configBox,
    h('div', { class: 'dialog-footer' }, cancel, save));
  d.body.append(form);
  fillDrivers();
  renderConfig();
  updatePreview();
  d.open();
  name.focus();

  // The template list arrives after the form is usable.
  templates().then((list) => {
    if (!list || !list.length || !d.dlg.isConnected) return;
    tplList = list;
    for (const t of list) tplSelect.append(h('option', { value: t.name }, t.description ? `${t.name} — ${t.description}` : t.name));
    tplField.el.hidden = type.value !== 'BANK_SFTP';
  }).catch(() => {});
  return d.dlg;
}
