// RadNomo's nomogram calculator, evaluated in the browser (a Streamlit components.v2 module).
//
// data (made by core/figures/calculator.py, sent once per model or layout):
//   model    calculator_model(): variables, points_per_unit_lp, terms/params/cov of the Wald interval, z,
//            sorted training risks
//   drawing  calculator_drawing(): the nomogram in px (axes, ticks, labels) or null
//   inputs   the values to show (variable -> number or level); applied when `revision` changes
//   revision a counter the page raises when it sets the inputs itself ("start from a patient")
//   fixed    variables shown but not editable (a new patient's score, computed from the CT)
//   persist  send each committed value to the server (setStateValue "inputs": a fragment rerun)
//
// Every keystroke recomputes here, with the server's own formula (Nomogram.points, LogitFit.predict_interval):
// no message to the server. The full-precision results are kept in data-* attributes for tests.

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attributes, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

const expit = (v) => 1 / (1 + Math.exp(-v));
const fixed1 = (v) => v.toFixed(1);
// What an input shows: at most 3 decimals (as the server's inputs did); the full value is kept until edited.
const shownValue = (v) => (typeof v === 'number' ? String(Number(v.toFixed(3))) : String(v));

// Python's f"{p:.1%}" / the layout's risk text (core.figures.nomogram._risk_text, tick=False)
const percent = (p) => (100 * p).toFixed(1) + '%';
function riskText(p, format) { return format === 'probability' ? p.toFixed(3) : (100 * p).toFixed(1) + ' %'; }

// The server's calculator: Nomogram.points per variable, their total, and LogisticModel.predict_interval.
export function evaluate(model, values) {
  const index = Object.fromEntries(model.terms.map((t, i) => [t, i]));
  const x = new Array(model.terms.length).fill(0);
  x[0] = 1;                                       // "const"
  const points = {};
  let total = 0;
  for (const v of model.variables) {
    const value = values[v.name];
    let contribution;
    if (v.kind === 'categorical') {
      contribution = v.coefficients[value];
      const column = v.columns[value];            // the reference level sets no column
      if (column !== undefined) x[index[column]] = 1;
    } else {
      contribution = v.coefficient * value;
      if (v.column !== null) x[index[v.column]] = value;
    }
    points[v.name] = (contribution - v.min_contribution) * model.points_per_unit_lp;
    total += points[v.name];
  }
  let eta = 0;
  for (let i = 0; i < x.length; i++) eta += x[i] * model.params[i];
  const result = { points, total, eta, risk: expit(eta), low: NaN, high: NaN };
  if (model.cov) {
    let q = 0;
    for (let i = 0; i < x.length; i++) {
      let row = 0;
      for (let j = 0; j < x.length; j++) row += model.cov[i][j] * x[j];
      q += x[i] * row;
    }
    const se = Math.sqrt(q);
    result.low = expit(eta - model.z * se);
    result.high = expit(eta + model.z * se);
  }
  return result;
}

// Share (0-100) of the training patients whose risk is below `risk` (core.stats.summaries.risk_percentile).
function percentile(sorted, risk) {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] < risk) lo = mid + 1; else hi = mid; }
  return sorted.length ? (100 * lo) / sorted.length : NaN;
}

// The nomogram without its patient: grid, axes, ticks, titles and labels (as nomogram_plotly draws them).
function drawNomogram(host, d) {
  host.replaceChildren();
  if (!d) return null;
  const root = svg('svg', { width: d.width, height: d.height, viewBox: `0 0 ${d.width} ${d.height}`,
    'font-family': d.font, 'font-size': d.font_size, role: 'img', 'aria-label': 'Nomogram' }, host);
  svg('rect', { width: d.width, height: d.height, fill: '#fff' }, root);
  const segments = (items, colour, width, parent, dash) => {
    const path = items.map(([x0, y0, x1, y1]) => `M${x0} ${y0}L${x1} ${y1}`).join('');
    if (path) svg('path', { d: path, stroke: colour, 'stroke-width': width, fill: 'none',
      ...(dash ? { 'stroke-dasharray': dash } : {}) }, parent);
  };
  const px = (x) => d.scale[0] + (d.scale[1] - d.scale[0]) * x / 100;
  const statics = svg('g', { class: 'axes' }, root);
  const points = d.axes[0];
  if (d.grid_bottom !== null) segments(points.grid.map((x) => [x, points.y, x, d.grid_bottom]), d.palette.grid, 1,
    statics);
  segments(d.axes.map((a) => [px(a.line[0]), a.y, px(a.line[1]), a.y]), d.palette.axis, 1.2, statics);
  segments(d.axes.flatMap((a) => a.ticks), d.palette.axis, 1, statics);
  segments(d.axes.flatMap((a) => a.minor), d.palette.minor, 0.8, statics);
  segments(d.axes.flatMap((a) => a.leaders), d.palette.minor, 0.8, statics);
  const guide = svg('g', { class: 'guide' }, root);        // behind the outcome labels' white ground
  const labels = svg('g', { class: 'labels', fill: d.palette.text }, root);
  for (const a of d.axes) {
    a.title_lines.forEach((line, i) => {
      svg('text', { x: a.title_right, y: a.title_top + (i + 0.5) * d.row, 'text-anchor': 'end',
        'dominant-baseline': 'central', 'data-axis': a.key }, labels).textContent = line;
    });
    for (const t of a.labels) {
      const text = svg('text', { x: t.x, y: t.y, 'text-anchor': 'middle', 'dominant-baseline': 'central',
        ...(t.rotation ? { transform: `rotate(${-t.rotation} ${t.x} ${t.y})` } : {}),
        ...(t.ground ? { stroke: '#fff', 'stroke-width': 4, 'paint-order': 'stroke' } : {}) }, labels);
      text.textContent = t.text;
    }
  }
  const marks = svg('g', { class: 'patient', fill: d.palette.patient }, root);
  return { root, guide, marks, px };
}

// The patient on the nomogram: a mark on each axis (a diamond where held at the axis's end), the guide from the
// total points down, the column of the patient's numbers and the summary line.
function markPatient(drawn, d, r, format) {
  if (!drawn) return;
  const { guide, marks, px } = drawn;
  guide.replaceChildren();
  marks.replaceChildren();
  const size = d.font_size * 0.95 / 2;
  let guideX = null;
  for (const a of d.axes) {
    let own = null, column = null, bold = false;
    if (a.kind === 'points') { column = 'Patient'; bold = true; }
    else if (a.kind === 'continuous' || a.kind === 'categorical') {
      own = r.points[a.key]; column = fixed1(own) + ' pts';
    } else if (a.kind === 'total') { own = r.total; column = fixed1(r.total) + ' pts'; }
    else if (a.kind === 'risk') { own = r.total; column = riskText(r.risk, format); bold = true; }
    if (own !== null) {
      const raw = own * a.to_x;
      const x = Math.min(Math.max(raw, a.line[0]), a.line[1]);
      const clipped = Math.abs(x - raw) > 1e-9;
      const cx = px(x);
      if (a.kind === 'total') guideX = cx;
      const style = { stroke: d.palette.patient_fill, 'stroke-width': 1.5, class: 'mark', 'data-axis': a.key,
        'data-x': x, 'data-clipped': clipped ? '1' : '0' };
      if (clipped) {
        svg('path', { d: `M${cx} ${a.y - size * 1.3}L${cx + size * 1.3} ${a.y}L${cx} ${a.y + size * 1.3}` +
          `L${cx - size * 1.3} ${a.y}Z`, ...style }, marks);
      } else {
        svg('circle', { cx, cy: a.y, r: size, ...style }, marks);
      }
    }
    if (column) {
      svg('text', { x: d.column_right, y: a.y, 'text-anchor': 'end', 'dominant-baseline': 'central',
        'font-weight': bold ? 'bold' : 'normal', class: 'column', 'data-axis': a.key }, marks).textContent = column;
    }
  }
  const total = d.axes.find((a) => a.kind === 'total');
  const last = d.axes[d.axes.length - 1];
  if (guideX !== null) {
    svg('path', { d: `M${guideX} ${total.y}L${guideX} ${last.y}`, stroke: d.palette.guide, 'stroke-width': 2,
      'stroke-dasharray': '6 4', fill: 'none' }, guide);
  }
  let words = `Total points ${fixed1(r.total)} → predicted risk ${riskText(r.risk, format)}`;
  if (Number.isFinite(r.low)) {
    words += ` (95 % CI ${riskText(r.low, format).replace(' %', '')}–${riskText(r.high, format)})`;
  }
  const summary = svg('text', { x: 0, y: d.summary_top, 'dominant-baseline': 'hanging', class: 'summary' }, marks);
  summary.textContent = words;
  const width = summary.getComputedTextLength ? summary.getComputedTextLength() : 0;
  const left = Math.min(Math.max((guideX ?? d.width / 2) - width / 2, d.margin), d.width - d.margin - width);
  summary.setAttribute('x', String(left));
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector('.calc');
  if (!root || !data || !data.model) return;
  const state = root.__calc || (root.__calc = {});
  const model = data.model;
  const modelSignature = JSON.stringify(model) + JSON.stringify(data.fixed || []);
  const drawingSignature = JSON.stringify(data.drawing);
  const rebuild = state.modelSignature !== modelSignature;

  const retake = rebuild || state.revision !== data.revision;
  if (retake) {
    // A new model, or the page set the inputs (a study patient chosen): take the values it sends. Otherwise the
    // values are the browser's own (typed since), and a rerun's data leaves them alone.
    state.values = Object.fromEntries(model.variables.map((v) => [v.name, (data.inputs || {})[v.name]]));
    state.revision = data.revision;
  }
  if (rebuild) {
    state.modelSignature = modelSignature;
    buildInputs(root, state, data, setStateValue);
  } else if (retake) {
    for (const input of root.querySelectorAll('#inputs [data-var]')) input.value = shownValue(state.values[input.dataset.var]);
  }
  if (rebuild || state.drawingSignature !== drawingSignature) {
    state.drawingSignature = drawingSignature;
    state.drawn = drawNomogram(root.querySelector('#drawing'), data.drawing);
  }
  show(root, state, data);
  root.dataset.ready = '1';
}

function buildInputs(root, state, data, setStateValue) {
  const fixed = new Set(data.fixed || []);
  const grid = root.querySelector('#inputs');
  grid.replaceChildren(...data.model.variables.map((v) => {
    const label = document.createElement('label');
    label.append(v.label);
    let input;
    if (v.kind === 'categorical') {
      input = document.createElement('select');
      for (const level of v.levels) input.add(new Option(level.replaceAll('_', ' '), level));
    } else {
      input = document.createElement('input');
      input.type = 'number';
      input.step = 'any';
    }
    input.value = shownValue(state.values[v.name]);
    input.dataset.var = v.name;
    input.disabled = fixed.has(v.name);
    input.addEventListener('input', () => {          // every keystroke or arrow step: recompute here
      if (v.kind === 'categorical') state.values[v.name] = input.value;
      else {
        const number = parseFloat(input.value);
        if (!Number.isFinite(number)) return;         // half-typed ("-", "1e"): keep the last number
        state.values[v.name] = number;
      }
      show(root, state, data);
    });
    if (data.persist) {                               // a committed value (Enter, leaving the field, a choice)
      input.addEventListener('change', () => setStateValue('inputs', { ...state.values }));
    }
    label.appendChild(input);
    if (v.help) {
      const help = document.createElement('span');
      help.className = 'help';
      help.textContent = v.help;
      label.appendChild(help);
    }
    return label;
  }));
}

function show(root, state, data) {
  const model = data.model;
  const r = evaluate(model, state.values);
  const set = (id, text, attributes) => {
    const node = root.querySelector(id);
    node.textContent = text;
    for (const [name, value] of Object.entries(attributes)) node.dataset[name] = String(value);
  };
  set('#risk', percent(r.risk), { risk: r.risk });
  set('#ci', Number.isFinite(r.low) ? `${percent(r.low)} – ${percent(r.high)}` : 'not available',
    { low: r.low, high: r.high });
  set('#total', fixed1(r.total), { total: r.total });
  const rank = percentile(model.training_risks, r.risk);
  set('#rank', `${rank.toFixed(0)} %`, { rank });

  const notes = [];
  for (const v of model.variables) {
    const input = root.querySelector(`#inputs [data-var="${CSS.escape(v.name)}"]`);
    const outside = v.kind === 'continuous' && (state.values[v.name] < v.range[0] || state.values[v.name] > v.range[1]);
    if (input) input.classList.toggle('outside', outside);
    if (outside) {
      notes.push(`${v.label} ${state.values[v.name]} lies beyond its axis (${v.range[0]} to ${v.range[1]}, the ` +
        'training range): its mark is held at the axis end, and the prediction is an extrapolation.');
    }
  }
  if (!model.cov) notes.push('This model was saved without its covariance matrix: no confidence interval.');
  root.querySelector('#notes').replaceChildren(...notes.map((text) => {
    const item = document.createElement('li'); item.textContent = text; return item;
  }));

  root.querySelector('#points tbody').replaceChildren(...model.variables.map((v) => {
    const row = document.createElement('tr');
    row.dataset.var = v.name;
    row.dataset.points = String(r.points[v.name]);
    const value = state.values[v.name];
    const shown = v.kind === 'categorical' ? String(value).replaceAll('_', ' ') : shownValue(value);
    for (const text of [v.label, shown, fixed1(r.points[v.name])]) {
      const cell = document.createElement('td'); cell.textContent = text; row.appendChild(cell);
    }
    return row;
  }));
  if (data.drawing) markPatient(state.drawn, data.drawing, r, data.drawing.risk_format);
  root.dataset.values = JSON.stringify(state.values);
}
