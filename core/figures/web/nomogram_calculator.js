// RadNomo's nomogram calculator, evaluated in the browser (a Streamlit components.v2 module).
//
// data (made by core/figures/calculator.py, sent once per model or layout):
//   model    calculator_model(): variables, points_per_unit_lp, the sorted training ranks, and `outcome`: what the
//            total points read off as (kind "risk": a logistic model's Wald interval; kind "survival": a Cox
//            model's survival at each horizon with survfit.coxph's interval, and the median time)
//   drawing  calculator_drawing(): the nomogram in px (axes, ticks, labels) or null
//   inputs   the values to show (variable -> number or level); applied when `revision` changes
//   revision a counter the page raises when it sets the inputs itself ("start from a patient")
//   fixed    variables shown but not editable (a new patient's score, computed from the CT)
//   persist  send each committed value to the server (setStateValue "inputs": a fragment rerun)
//
// Every keystroke recomputes here, with the server's own formulas (Nomogram.points; LogitFit.predict_interval;
// CoxNomogram.survival / median_survival and the Cox model's predict_survival): no message to the server. The
// full-precision results are kept in data-* attributes for tests.

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
// Python's f"{p:.1%}"; the layout's probability text (core.figures.nomogram._risk_text, tick=False)
const percent = (p) => (100 * p).toFixed(1) + '%';
const riskText = (p, format) => (format === 'probability' ? p.toFixed(3) : (100 * p).toFixed(1) + ' %');
// "(95 % CI 10.0–24.7 %)" as the layout writes an interval after a probability
const intervalWords = (low, high, format) => (Number.isFinite(low) && Number.isFinite(high)
  ? ` (95 % CI ${riskText(low, format).replace(' %', '')}–${riskText(high, format)})` : '');

// x' M x for a square matrix M (rows of arrays)
function quadratic(matrix, x) {
  let q = 0;
  for (let i = 0; i < x.length; i++) {
    let row = 0;
    for (let j = 0; j < x.length; j++) row += matrix[i][j] * x[j];
    q += x[i] * row;
  }
  return q;
}

// Share (0-100) of the sorted training values below `value` (core.stats.summaries.risk_percentile).
function percentile(sorted, value) {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] < value) lo = mid + 1; else hi = mid; }
  return sorted.length ? (100 * lo) / sorted.length : NaN;
}

// Points per variable (Nomogram.points), their total, and the design row over `terms` (a level's indicator column
// set to 1, the reference level's none).
function score(model, values, terms) {
  const index = Object.fromEntries(terms.map((t, i) => [t, i]));
  const x = new Array(terms.length).fill(0);
  const points = {};
  let total = 0;
  for (const v of model.variables) {
    const value = values[v.name];
    let contribution;
    if (v.kind === 'categorical') {
      contribution = v.coefficients[value];
      const column = v.columns[value];
      if (column !== undefined && column in index) x[index[column]] = 1;
    } else {
      contribution = v.coefficient * value;
      if (v.column in index) x[index[v.column]] = value;
    }
    points[v.name] = (contribution - v.min_contribution) * model.points_per_unit_lp;
    total += points[v.name];
  }
  return { points, total, x };
}

// What the total points read off as, per outcome kind (core.figures.calculator._OUTCOMES).
const OUTCOMES = {
  risk: {
    evaluate(model, values) {
      const o = model.outcome;
      const { points, total, x } = score(model, values, o.terms);
      x[0] = 1;                                    // "const"
      let eta = 0;
      for (let i = 0; i < x.length; i++) eta += x[i] * o.params[i];
      const r = { points, total, risk: expit(eta), low: NaN, high: NaN, rank: percentile(model.training_ranks, expit(eta)) };
      if (o.cov) {
        const se = Math.sqrt(quadratic(o.cov, x));
        r.low = expit(eta - o.z * se);
        r.high = expit(eta + o.z * se);
      }
      return r;
    },
    metrics(r) {
      return [
        { id: 'risk', label: 'Predicted risk', text: percent(r.risk), data: { risk: r.risk } },
        { id: 'ci', label: '95 % CI', data: { low: r.low, high: r.high },
          text: Number.isFinite(r.low) ? `${percent(r.low)} – ${percent(r.high)}` : 'not available' },
        { id: 'total', label: 'Total points', text: fixed1(r.total), data: { total: r.total } },
        { id: 'rank', label: 'Training patients with a lower risk', text: `${r.rank.toFixed(0)} %`,
          data: { rank: r.rank }, title: "Where this patient falls on the training cohort's distribution of predicted risk." },
      ];
    },
    read(axis, r, format) {                       // an outcome axis: where the patient sits, what the column says
      return { own: r.total, text: riskText(r.risk, format), bold: true };
    },
    summary(r, format) {                          // phrases a line may break between
      return [`Total points ${fixed1(r.total)} → predicted risk ${riskText(r.risk, format)}` +
        intervalWords(r.low, r.high, format)];
    },
  },
  survival: {
    evaluate(model, values) {
      const o = model.outcome;
      const { points, total, x } = score(model, values, o.terms);
      const lp = o.lp_at_zero + total / model.points_per_unit_lp;   // CoxNomogram.linear_predictor_at
      const relative = Math.exp(lp + o.center);
      // the model's interval (predict_survival): centred design row, survfit.coxph's variance of H(t | x)
      const v = x.map((value, j) => value - o.centre[j]);
      let xb = 0;
      for (let j = 0; j < v.length; j++) xb += v[j] * o.coef[j];
      const risk = Math.exp(xb);
      const horizons = o.horizons.map((h) => {
        const survival = Math.exp(-h.baseline_at * relative);       // CoxNomogram.survival
        let low = NaN, high = NaN;
        if (o.var) {
          const d = v.map((value, j) => h.cumhaz * value - h.xbar[j]);
          const se = Math.sqrt((h.cumvar + quadratic(o.var, d)) * risk * risk);
          const s = Math.exp(-risk * h.cumhaz);
          if (s > 0) {
            low = Math.exp(Math.log(s) - o.z * se);
            high = Math.min(Math.exp(Math.log(s) + o.z * se), 1);
          }
        }
        return { horizon: h.horizon, survival, low, high };
      });
      let median = NaN;                            // CoxNomogram.median_survival: first baseline time with S <= 0.5
      for (let i = 0; i < o.baseline_times.length; i++) {
        if (Math.exp(-o.baseline_cumhaz[i] * relative) <= 0.5) { median = o.baseline_times[i]; break; }
      }
      return { points, total, horizons, median, rank: percentile(model.training_ranks, total) };
    },
    metrics(r, model) {
      const words = model.words;
      return [
        ...r.horizons.map((h, i) => ({ id: `survival-${i}`, label: `Survival at ${words.horizon_labels[i]}`,
          text: percent(h.survival) + (Number.isFinite(h.low) && Number.isFinite(h.high)
            ? ` (95 % CI ${percent(h.low)} – ${percent(h.high)})` : ''),
          data: { survival: h.survival, low: h.low, high: h.high, horizon: h.horizon },
          title: `Predicted probability of being free of ${words.event}, with its 95 % confidence interval (the Cox model's).` })),
        { id: 'median', label: `Median time to ${words.event}`, data: { median: r.median },
          text: Number.isFinite(r.median) ? `${fixed1(r.median)} ${words.time_unit}` : 'not reached',
          title: 'Where the predicted survival curve falls to 50 %; not reached when it stays above 50 % within the training follow-up.' },
        { id: 'total', label: 'Total points', text: fixed1(r.total), data: { total: r.total } },
        { id: 'rank', label: 'Training patients with a lower predicted risk', text: `${r.rank.toFixed(0)} %`,
          data: { rank: r.rank }, title: 'Share of the training cohort with fewer total points (a lower predicted hazard).' },
      ];
    },
    read(axis, r, format) {
      if (axis.kind === 'median') {
        return { own: Number.isFinite(r.median) ? r.total : null, bold: false,
          text: Number.isFinite(r.median) ? fixed1(r.median) : 'not reached' };
      }
      const h = r.horizons[axis.horizon_index];
      return { own: r.total, text: riskText(h.survival, format), bold: true };
    },
    summary(r, format, model, drawing) {          // as core.figures.nomogram._survival_summary
      const unit = model.words.time_unit;
      const median = drawing.axes.some((a) => a.kind === 'median');
      const parts = r.horizons.map((h) => `${riskText(h.survival, format)}${intervalWords(h.low, h.high, format)} at ` +
        `${Number(h.horizon.toPrecision(6))} ${unit}`);
      const phrases = [...parts.slice(0, -1).map((p) => `${p},`), parts[parts.length - 1] + (median ? ';' : '')];
      phrases[0] = `Total points ${fixed1(r.total)} → survival ${phrases[0]}`;
      if (median) {
        phrases.push(Number.isFinite(r.median) ? `median survival ${fixed1(r.median)} ${unit}`
          : 'median survival not reached within follow-up');
      }
      return phrases;
    },
  },
};

// The nomogram without its patient: grid, axes, ticks, titles and labels (as nomogram_plotly draws them).
function drawNomogram(host, d) {
  host.replaceChildren();
  if (!d) return null;
  const root = svg('svg', { width: d.width, height: d.height, viewBox: `0 0 ${d.width} ${d.height}`,
    'font-family': d.font, 'font-size': d.font_size, role: 'img', 'aria-label': 'Nomogram' }, host);
  svg('rect', { width: d.width, height: d.height, fill: '#fff' }, root);
  const segments = (items, colour, width, parent) => {
    const path = items.map(([x0, y0, x1, y1]) => `M${x0} ${y0}L${x1} ${y1}`).join('');
    if (path) svg('path', { d: path, stroke: colour, 'stroke-width': width, fill: 'none' }, parent);
  };
  const px = (x) => d.scale[0] + (d.scale[1] - d.scale[0]) * x / 100;
  const statics = svg('g', { class: 'axes' }, root);
  const points = d.axes[0];
  if (d.grid_bottom !== null) {
    segments(points.grid.map((x) => [x, points.y, x, d.grid_bottom]), d.palette.grid, 1, statics);
  }
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
      svg('text', { x: t.x, y: t.y, 'text-anchor': 'middle', 'dominant-baseline': 'central',
        ...(t.rotation ? { transform: `rotate(${-t.rotation} ${t.x} ${t.y})` } : {}),
        ...(t.ground ? { stroke: '#fff', 'stroke-width': 4, 'paint-order': 'stroke' } : {}) }, labels)
        .textContent = t.text;
    }
  }
  const marks = svg('g', { class: 'patient', fill: d.palette.patient }, root);
  return { guide, marks, px };
}

// The patient on the nomogram: a mark on each axis (a diamond where held at the axis's end), the guide from the
// total points down, the column of the patient's numbers and the summary line.
function markPatient(drawn, d, r, model, outcome) {
  const { guide, marks, px } = drawn;
  guide.replaceChildren();
  marks.replaceChildren();
  const size = d.font_size * 0.95 / 2;
  let guideX = null;
  for (const a of d.axes) {
    let read = { own: null, text: null, bold: false };
    if (a.kind === 'points') read = { own: null, text: 'Patient', bold: true };
    else if (a.kind === 'continuous' || a.kind === 'categorical') {
      read = { own: r.points[a.key], text: fixed1(r.points[a.key]) + ' pts', bold: false };
    } else if (a.kind === 'total') read = { own: r.total, text: fixed1(r.total) + ' pts', bold: false };
    else read = outcome.read(a, r, d.risk_format);
    if (read.own !== null) {
      const raw = read.own * a.to_x;
      const x = Math.min(Math.max(raw, a.line[0]), a.line[1]);
      const clipped = Math.abs(x - raw) > 1e-9;
      const cx = px(x);
      if (a.kind === 'total') guideX = cx;
      const style = { stroke: d.palette.patient_fill, 'stroke-width': 1.5, class: 'mark', 'data-axis': a.key,
        'data-x': x, 'data-clipped': clipped ? '1' : '0' };
      const k = size * 1.3;
      if (clipped) svg('path', { d: `M${cx} ${a.y - k}L${cx + k} ${a.y}L${cx} ${a.y + k}L${cx - k} ${a.y}Z`, ...style }, marks);
      else svg('circle', { cx, cy: a.y, r: size, ...style }, marks);
    }
    if (read.text) {
      svg('text', { x: d.column_right, y: a.y, 'text-anchor': 'end', 'dominant-baseline': 'central',
        'font-weight': read.bold ? 'bold' : 'normal', class: 'column', 'data-axis': a.key }, marks).textContent = read.text;
    }
  }
  const total = d.axes.find((a) => a.kind === 'total');
  const last = d.axes[d.axes.length - 1];
  if (guideX !== null) {
    svg('path', { d: `M${guideX} ${total.y}L${guideX} ${last.y}`, stroke: d.palette.guide, 'stroke-width': 2,
      'stroke-dasharray': '6 4', fill: 'none' }, guide);
  }
  // The summary: phrases packed into lines no wider than the figure, the block centred under the guide.
  const lines = [];
  const probe = svg('text', { x: 0, y: 0 }, marks);
  const widthOf = (text) => { probe.textContent = text; return probe.getComputedTextLength(); };
  for (const phrase of outcome.summary(r, d.risk_format, model, d)) {
    const trial = lines.length ? `${lines[lines.length - 1]} ${phrase}` : phrase;
    if (lines.length && widthOf(trial) <= d.width - 2 * d.margin) lines[lines.length - 1] = trial;
    else lines.push(phrase);
  }
  const widest = Math.max(...lines.map(widthOf));
  probe.remove();
  const left = Math.max(Math.min(Math.max((guideX ?? d.width / 2) - widest / 2, d.margin), d.width - d.margin - widest),
    d.margin);
  lines.forEach((line, i) => {
    svg('text', { x: left, y: d.summary_top + i * d.row, 'dominant-baseline': 'hanging', class: 'summary' }, marks)
      .textContent = line;
  });
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
  root.querySelector('#inputs').replaceChildren(...data.model.variables.map((v) => {
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
  const outcome = OUTCOMES[model.outcome.kind];
  const r = outcome.evaluate(model, state.values);
  root.querySelector('#result').replaceChildren(...outcome.metrics(r, model).map((m) => {
    const box = document.createElement('div');
    box.className = 'metric';
    if (m.title) box.title = m.title;
    const label = document.createElement('div');
    label.className = 'label';
    label.textContent = m.label;
    const value = document.createElement('div');
    value.className = 'value';
    value.id = m.id;
    value.textContent = m.text;
    for (const [name, number] of Object.entries(m.data)) value.dataset[name] = String(number);
    box.append(label, value);
    return box;
  }));

  const notes = [];
  for (const v of model.variables) {
    const input = root.querySelector(`#inputs [data-var="${CSS.escape(v.name)}"]`);
    const value = state.values[v.name];
    const outside = v.kind === 'continuous' && (value < v.range[0] || value > v.range[1]);
    if (input) input.classList.toggle('outside', outside);
    if (outside) {
      notes.push(`${v.label} ${shownValue(value)} lies beyond its axis (${shownValue(v.range[0])} to ` +
        `${shownValue(v.range[1])}, set on the training patients): its mark is held at the axis end, and the ` +
        'prediction is an extrapolation.');
    }
  }
  if (model.outcome.kind === 'risk' ? !model.outcome.cov : !model.outcome.var) {
    notes.push('This model has no covariance matrix of its coefficients (saved without it, or penalised): no ' +
      'confidence interval.');
  }
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
  if (data.drawing && state.drawn) markPatient(state.drawn, data.drawing, r, model, outcome);
  root.dataset.values = JSON.stringify(state.values);
}
