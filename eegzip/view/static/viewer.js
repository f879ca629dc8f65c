// eegzip view: draws the window the server sends (see eegzip/view/server.py for the format).
"use strict";

const SENSITIVITIES = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 200, 500, 1000]; // µV/mm
const PX_PER_MM = 96 / 25.4; // CSS pixels per millimetre
const LABEL_WIDTH = 90; // px left of the traces
const AXIS_HEIGHT = 22; // px below the traces
const $ = (id) => document.getElementById(id);

const state = {
  info: null,
  start: 0,
  page: 10,
  sensitivity: SENSITIVITIES.indexOf(7),
  montage: "recorded",
  hidden: new Set(), // trace names the user unticked
  window: null, // the last window drawn
  pressedAt: null, // performance.now() of the key or click that asked for a page
  request: 0,
};

function formatTime(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h}:${String(m).padStart(2, "0")}:${s.toFixed(1).padStart(4, "0")}`;
}

function parseTime(text) {
  const parts = text.trim().split(":").map(Number);
  if (!parts.length || parts.some((p) => !Number.isFinite(p))) return null;
  return parts.reduce((total, p) => total * 60 + p, 0);
}

function showError(message) {
  $("error").textContent = message || "";
}

function windowUrl(start) {
  const names = state.info.montages[state.montage].filter((n) => !state.hidden.has(n));
  const all = names.length === state.info.montages[state.montage].length;
  const width = Math.max(16, Math.round($("traces").clientWidth - LABEL_WIDTH));
  const query = new URLSearchParams({
    start: start.toFixed(3),
    duration: String(state.page),
    montage: state.montage,
    width: String(width),
    channels: all ? "" : names.join(","),
  });
  return `/api/window?${query}`;
}

function decodeWindow(buffer) {
  const view = new DataView(buffer);
  const length = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  let offset = 4 + length;
  for (const trace of header.traces) {
    trace.values = new Float32Array(buffer, offset, trace.count);
    offset += trace.count * 4;
  }
  return header;
}

async function fetchWindow(start) {
  const response = await fetch(windowUrl(start));
  if (!response.ok) throw new Error((await response.json()).error);
  return decodeWindow(await response.arrayBuffer());
}

async function show(start) {
  const duration = state.info.duration;
  start = Math.max(0, Math.min(start, Math.max(0, duration - state.page)));
  const forward = Math.abs(start - (state.start + state.page)) < 1e-6;
  state.start = start;
  const request = ++state.request;
  document.body.dataset.state = "loading";
  let window_;
  try {
    window_ = await fetchWindow(start);
  } catch (error) {
    showError(error.message);
    document.body.dataset.state = "error";
    return;
  }
  if (request !== state.request) return; // a newer page was asked for meanwhile
  showError("");
  state.window = window_;
  draw();
  if (state.pressedAt !== null) {
    document.body.dataset.pageMs = (performance.now() - state.pressedAt).toFixed(1);
    state.pressedAt = null;
  }
  document.body.dataset.shownStart = String(start);
  document.body.dataset.state = "ready";
  // Paging forward: warm the server's cache with the next page (not after a jump, where
  // it would only hold up the next jump behind a decode nobody asked for).
  if (forward && start + state.page < duration) fetch(windowUrl(start + state.page));
}

function sizeCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(canvas.clientWidth * ratio);
  canvas.height = Math.round(canvas.clientHeight * ratio);
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return context;
}

function traceX(trace, index, seconds, width) {
  if (trace.minmax) return LABEL_WIDTH + ((Math.floor(index / 2) + 0.5) / (trace.count / 2)) * width * (trace.samples / trace.rate) / seconds;
  return LABEL_WIDTH + (index / trace.rate / seconds) * width;
}

function drawTrace(context, trace, centre, offset, scale, seconds, width) {
  context.beginPath();
  for (let i = 0; i < trace.count; i++) {
    const x = traceX(trace, i, seconds, width);
    const y = centre - (trace.values[i] - offset) * scale;
    if (i === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  }
  context.stroke();
}

function mean(values) {
  let total = 0;
  for (const v of values) total += v;
  return values.length ? total / values.length : 0;
}

function range(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    low = Math.min(low, v);
    high = Math.max(high, v);
  }
  return values.length ? high - low : 0;
}

function draw() {
  const canvas = $("traces");
  const context = sizeCanvas(canvas);
  const w = canvas.clientWidth - LABEL_WIDTH - 10;
  const h = canvas.clientHeight - AXIS_HEIGHT;
  context.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
  const win = state.window;
  if (!win) return;
  const seconds = state.page;
  const signals = win.traces.filter((t) => t.series === "signal");
  const references = new Map(
    win.traces.filter((t) => t.series === "reference").map((t) => [t.name, t]));
  const row = h / Math.max(1, signals.length);
  const scale = PX_PER_MM / SENSITIVITIES[state.sensitivity];
  context.font = "12px system-ui, sans-serif";
  context.lineWidth = 1;
  signals.forEach((trace, k) => {
    const centre = row * (k + 0.5);
    const offset = mean(trace.values);
    // Non-EEG traces (ECG, triggers) are fitted to their row, not drawn at the EEG's scale.
    const own = trace.eeg ? scale : 0.8 * row / Math.max(1e-9, range(trace.values));
    context.fillStyle = "#222";
    context.fillText(trace.eeg ? trace.name : `${trace.name} (fit)`, 4, centre + 4);
    context.save();
    context.beginPath();
    context.rect(LABEL_WIDTH, centre - 1.5 * row, w, 3 * row); // a trace may cross one row
    context.clip();
    const reference = references.get(trace.name);
    if (reference) {
      context.strokeStyle = "#e06666";
      drawTrace(context, reference, centre, offset, own, seconds, w);
    }
    context.strokeStyle = "#1a3d7c";
    drawTrace(context, trace, centre, offset, own, seconds, w);
    context.restore();
  });
  drawAxis(context, w, h, seconds);
  drawAnnotations(context, w, h, seconds);
  drawScaleBar(context, w, h);
  $("time-label").textContent = `${formatTime(win.start)} – ${formatTime(win.start + win.seconds)}`;
  showWindowMetrics(win.metrics);
  drawOverview();
}

function drawAxis(context, w, h, seconds) {
  const minimum = (90 / w) * seconds; // seconds between labels at least 90 px apart
  const step = [0.5, 1, 2, 5, 10, 30, 60, 120, 300].find((s) => s >= minimum) || 600;
  context.strokeStyle = "#ddd";
  context.fillStyle = "#444";
  const first = Math.ceil(state.start / step) * step;
  for (let t = first; t <= state.start + seconds + 1e-9; t += step) {
    const x = LABEL_WIDTH + ((t - state.start) / seconds) * w;
    context.beginPath();
    context.moveTo(x, 0);
    context.lineTo(x, h);
    context.stroke();
    if (x < LABEL_WIDTH + w - 30) context.fillText(formatTime(t), x - 28, h + 15);
  }
}

function drawAnnotations(context, w, h, seconds) {
  context.fillStyle = "#0a7a2f";
  context.strokeStyle = "#0a7a2f";
  for (const a of state.info.annotations) {
    if (a.onset < state.start || a.onset >= state.start + seconds) continue;
    const x = LABEL_WIDTH + ((a.onset - state.start) / seconds) * w;
    context.setLineDash([4, 3]);
    context.beginPath();
    context.moveTo(x, 0);
    context.lineTo(x, h);
    context.stroke();
    context.setLineDash([]);
    context.fillText(a.text, x + 3, 12);
  }
}

function drawScaleBar(context, w, h) {
  const microvolts = SENSITIVITIES[state.sensitivity] * 10; // 10 mm tall
  const x = LABEL_WIDTH + w - 4;
  context.fillStyle = "rgba(255, 255, 255, 0.85)";
  context.fillRect(x - 56, h - 12 - 10 * PX_PER_MM, 60, 10 * PX_PER_MM + 10);
  context.strokeStyle = "#000";
  context.lineWidth = 2;
  context.beginPath();
  context.moveTo(x, h - 6);
  context.lineTo(x, h - 6 - 10 * PX_PER_MM);
  context.stroke();
  context.lineWidth = 1;
  context.fillStyle = "#000";
  context.fillText(`${microvolts} µV`, x - 52, h - 10);
}

function drawOverview() {
  const canvas = $("overview");
  const context = sizeCanvas(canvas);
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  const duration = state.info.duration;
  context.fillStyle = "#f2f2f2";
  context.fillRect(0, 0, w, h);
  context.fillStyle = "#0a7a2f";
  for (const a of state.info.annotations) context.fillRect((a.onset / duration) * w, 0, 1, h);
  context.fillStyle = "rgba(26, 61, 124, 0.35)";
  const x = (state.start / duration) * w;
  context.fillRect(x, 0, Math.max(2, (state.page / duration) * w), h);
}

function showSummary(info) {
  $("file").textContent = info.file;
  const s = info.summary;
  const rows = [["start", info.start], ["duration", formatTime(info.duration)],
    ["format", s.format], ["bytes", s.bytes.toLocaleString()]];
  if (s.codec) {
    rows.push(["codec", s.codec],
      ["rate", `${s.bits_per_second_per_channel.toFixed(1)} bit/s per channel (${s.coded_channels} coded)`]);
    const f = s.fidelity;
    if (f.prdn !== undefined) rows.push(["stored fidelity", `PRDN ${f.prdn.toFixed(1)} %, SNR ${f.snr_db.toFixed(1)} dB, r ${f.r.toFixed(3)}`]);
  }
  if (info.reference) rows.push(["overlay", `${info.reference} (red) vs reconstruction (blue)`]);
  $("summary").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
}

function showWindowMetrics(metrics) {
  const box = $("window-metrics");
  if (!metrics) {
    box.textContent = "";
    return;
  }
  const prdns = Object.values(metrics.prdn).filter((v) => v !== null);
  const ratios = Object.entries(metrics.band_power_ratio)
    .map(([band, r]) => `${band} ${r === null ? "–" : r.toFixed(2)}`).join(", ");
  box.textContent = `This page: mean PRDN ${prdns.length ? mean(prdns).toFixed(1) : "–"} %; ` +
    `band power reconstruction/original: ${ratios}`;
}

function showAnnotations(info) {
  if (!info.annotations.length) {
    $("annotations").textContent = "none";
    return;
  }
  $("annotations").replaceChildren(...info.annotations.map((a) => {
    const item = document.createElement("li");
    item.className = "annotation";
    item.textContent = `${formatTime(a.onset)} ${a.text}`;
    item.addEventListener("click", () => turnTo(a.onset - state.page / 2));
    return item;
  }));
}

function showChannels() {
  const names = state.info.montages[state.montage];
  $("channels").replaceChildren(...names.map((name) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !state.hidden.has(name);
    box.addEventListener("change", () => {
      if (box.checked) state.hidden.delete(name);
      else state.hidden.add(name);
      show(state.start);
    });
    label.append(box, " ", name);
    return label;
  }));
}

function turnTo(start) {
  state.pressedAt = performance.now();
  show(start);
}

function setSensitivity(index) {
  state.sensitivity = Math.max(0, Math.min(SENSITIVITIES.length - 1, index));
  $("sensitivity").value = String(state.sensitivity);
  draw();
}

function bind() {
  $("sensitivity").replaceChildren(...SENSITIVITIES.map((s, i) => new Option(String(s), String(i))));
  $("sensitivity").value = String(state.sensitivity);
  $("sensitivity").addEventListener("change", (e) => setSensitivity(Number(e.target.value)));
  $("less").addEventListener("click", () => setSensitivity(state.sensitivity + 1));
  $("more").addEventListener("click", () => setSensitivity(state.sensitivity - 1));
  $("prev").addEventListener("click", () => turnTo(state.start - state.page));
  $("next").addEventListener("click", () => turnTo(state.start + state.page));
  $("page").addEventListener("change", (e) => {
    state.page = Number(e.target.value);
    show(state.start);
  });
  $("montage").addEventListener("change", (e) => {
    state.montage = e.target.value;
    showChannels();
    show(state.start);
  });
  $("all-channels").addEventListener("click", () => {
    state.hidden.clear();
    showChannels();
    show(state.start);
  });
  $("no-channels").addEventListener("click", () => {
    const names = state.info.montages[state.montage];
    names.slice(1).forEach((n) => state.hidden.add(n)); // keep one trace: a page needs one
    showChannels();
    show(state.start);
  });
  $("jump").addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const t = parseTime(e.target.value);
    if (t === null) showError(`not a time: ${e.target.value}`);
    else turnTo(t);
  });
  $("overview").addEventListener("click", (e) => {
    const fraction = e.offsetX / e.target.clientWidth;
    turnTo(fraction * state.info.duration - state.page / 2);
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === "ArrowRight" || e.key === "PageDown") turnTo(state.start + state.page);
    else if (e.key === "ArrowLeft" || e.key === "PageUp") turnTo(state.start - state.page);
    else if (e.key === "+" || e.key === "=") setSensitivity(state.sensitivity - 1);
    else if (e.key === "-") setSensitivity(state.sensitivity + 1);
    else return;
    e.preventDefault();
  });
  window.addEventListener("resize", () => show(state.start));
}

async function main() {
  bind();
  const response = await fetch("/api/info");
  state.info = await response.json();
  for (const m of ["average", "bipolar"]) {
    if (!state.info.montages[m].length) $("montage").querySelector(`[value=${m}]`).disabled = true;
  }
  showSummary(state.info);
  showAnnotations(state.info);
  showChannels();
  await show(0);
}

main();
