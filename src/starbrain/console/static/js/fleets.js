// The other fleets' panels: vehicles (tracks, model error, the double lane change), the robot
// arm (joint tracking, model error, a drawing of its two links), the GPU hall (power,
// temperatures, the power-capped schedule) and public posts (bursts on a timeline, search,
// recent posts). Charts are drawn on canvases like the telemetry chart; each canvas records
// what it drew (canvas.drawn: points per line) so tests can check it.

import { api } from "./api.js";
import { chartCanvas, DEG, el, fmtTime } from "./common.js";

const $ = (sel) => document.querySelector(sel);
const fmtNum = (v, d) => (v === null || v === undefined ? "—" : Number(v).toFixed(d));
const COLOURS = ["#4cc9f0", "#f72585", "#ffd166", "#06d6a0", "#b388ff", "#ff9f1c"];


// ---------------------------------------------------------------- a small line chart

/**
 * Lines on a canvas. lines: [{x: [...], y: [...], label, colour, dash, width}] (null y: a
 * gap). opts: {xTime (x are ms since 1970), equal (same scale on both axes), xLabel, yLabel,
 * rects: [{x0, x1, y0, y1, colour}] drawn first, marks: [{x, label, colour}] vertical lines}.
 */
export function plotLines(canvas, lines, opts = {}) {
  const { ctx, w, h } = chartCanvas(canvas, 200);
  canvas.drawn = lines.map(() => 0);
  const xs = [], ys = [];
  for (const l of lines) l.x.forEach((x, i) => { if (l.y[i] !== null && Number.isFinite(l.y[i])) { xs.push(x); ys.push(l.y[i]); } });
  for (const r of opts.rects ?? []) { xs.push(r.x0, r.x1); ys.push(r.y0, r.y1); }
  if (!xs.length) return;
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 - x0 < 1e-9) { x0 -= 1; x1 += 1; }
  if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
  const padY = (y1 - y0) * 0.06; y0 -= padY; y1 += padY;
  const pad = { l: 54, r: 10, t: 16, b: 24 };
  let sx = (w - pad.l - pad.r) / (x1 - x0), sy = (h - pad.t - pad.b) / (y1 - y0);
  if (opts.equal) { // one scale on both axes, the data centred in the spare room
    const s = Math.min(sx, sy);
    x0 -= ((w - pad.l - pad.r) / s - (x1 - x0)) / 2;
    y0 -= ((h - pad.t - pad.b) / s - (y1 - y0)) / 2;
    sx = sy = s;
  }
  const X = (x) => pad.l + (x - x0) * sx;
  const Y = (y) => h - pad.b - (y - y0) * sy;
  ctx.strokeStyle = "#26324f"; ctx.fillStyle = "#8a96ad"; ctx.font = "10px sans-serif";
  for (let k = 0; k <= 4; k++) {
    const y = y0 + ((h - pad.t - pad.b) / sy) * (k / 4);
    ctx.beginPath(); ctx.moveTo(pad.l, Y(y)); ctx.lineTo(w - pad.r, Y(y)); ctx.stroke();
    ctx.fillText(Math.abs(y) >= 1e4 ? y.toExponential(2) : y.toPrecision(3), 4, Y(y) + 3);
  }
  for (let k = 0; k <= 4; k++) {
    const x = x0 + ((w - pad.l - pad.r) / sx) * (k / 4);
    const text = opts.xTime ? new Date(x).toISOString().slice(11, 19) : x.toPrecision(3);
    ctx.fillText(text, X(x) - 18, h - 8);
  }
  if (opts.xLabel) ctx.fillText(opts.xLabel, w - pad.r - ctx.measureText(opts.xLabel).width, h - 8 - 10);
  if (opts.yLabel) ctx.fillText(opts.yLabel, pad.l + 4, pad.t - 4);
  for (const r of opts.rects ?? []) {
    ctx.strokeStyle = r.colour ?? "#ff9f1c"; ctx.lineWidth = 1.5;
    ctx.strokeRect(X(r.x0), Y(r.y1), (r.x1 - r.x0) * sx, (r.y1 - r.y0) * sy);
  }
  for (const m of opts.marks ?? []) {
    ctx.strokeStyle = m.colour ?? "#ef476f"; ctx.lineWidth = 1; ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(X(m.x), pad.t); ctx.lineTo(X(m.x), h - pad.b); ctx.stroke();
    ctx.setLineDash([]);
    if (m.label) { ctx.fillStyle = m.colour ?? "#ef476f"; ctx.fillText(m.label, X(m.x) + 3, pad.t + 9); }
  }
  let legend = pad.l + 4;
  lines.forEach((l, n) => {
    ctx.strokeStyle = l.colour ?? COLOURS[n % COLOURS.length];
    ctx.lineWidth = l.width ?? 1.3;
    ctx.setLineDash(l.dash ?? []);
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < l.x.length; i++) {
      const y = l.y[i];
      if (y === null || !Number.isFinite(y)) { pen = false; continue; }
      if (pen) ctx.lineTo(X(l.x[i]), Y(y)); else ctx.moveTo(X(l.x[i]), Y(y));
      pen = true;
      canvas.drawn[n] += 1;
    }
    ctx.stroke();
    ctx.setLineDash([]);
    if (l.label) {
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillText(l.label, legend, pad.t + 22);
      legend += ctx.measureText(l.label).width + 12;
    }
  });
  canvas.scale = { X, Y };
}

const ms = (times) => times.map((t) => Date.parse(t));

// ---------------------------------------------------------------- vehicles (#15)

export async function loadVehicles(state) {
  const r = await api("/api/vehicles");
  const select = $("#veh-select");
  const ids = [...new Set(r.logs.map((l) => l.vehicle_id))];
  const previous = select.value;
  select.replaceChildren(...ids.map((v) => el("option", { value: v }, v)));
  if (!ids.length) {
    $("#veh-summary").textContent = "no driving logs stored (make run, or starbrain vehicle simulate --load)";
    return;
  }
  if (ids.includes(previous)) select.value = previous;
  const v = select.value;
  const logs = r.logs.filter((l) => l.vehicle_id === v);
  $("#veh-summary").textContent = `${v}: ${logs.length} log(s), ${logs.reduce((n, l) => n + l.samples, 0).toLocaleString()} samples ` +
    `${fmtTime(logs[0].first)} – ${fmtTime(logs[logs.length - 1].last, "time")} UTC` +
    (logs[0].friction !== null ? `, friction ${logs.map((l) => fmtNum(l.friction, 1)).join("/")}` : "");
  const [track, error, lane] = await Promise.all([
    api("/api/vehicles/track", { vehicle_id: v, max_points: 2000 }),
    api("/api/vehicles/model-error", { vehicle_id: v }),
    api("/api/vehicles/lane-change", { vehicle_id: v }),
  ]);
  state.vehicles = { track, error, lane };
  plotLines($("#veh-track"), track.logs.map((l) => ({ x: l.x_m, y: l.y_m, label: l.log_id })),
    { equal: true, xLabel: "east m", yLabel: "north m" });
  $("#veh-error-note").textContent = error.available ? "open-loop position RMSE on the stored logs" : error.hint;
  $("#veh-error tbody").replaceChildren(...error.rows.map((e) =>
    el("tr", {}, el("td", {}, e.model), el("td", {}, e.stratum), el("td", { class: "num" }, fmtNum(e.horizon_s, 1)),
      el("td", { class: "num" }, fmtNum(e.position_rmse_m, 3)), el("td", { class: "num" }, e.n_windows))));
  drawLaneChange(lane);
}

function drawLaneChange(lane) {
  const canvas = $("#veh-lane");
  canvas.hidden = !lane.available;
  if (!lane.available) {
    $("#veh-lane-note").textContent = lane.hint;
    return;
  }
  const run = lane.run;
  $("#veh-lane-note").textContent = `${run.vehicle_id} at ${fmtNum(run.speed_mps, 1)} m/s entry, friction ${fmtNum(run.friction, 1)}, ` +
    `${run.model}: ${run.passed ? "passed" : "failed"}` + (run.cones_struck.length ? ` (struck ${run.cones_struck.join(", ")})` : "") +
    `, max sideslip ${fmtNum(run.max_sideslip_deg, 1)}° · ${fmtTime(run.ran_at)}`;
  const rects = run.sections.map(([x0, x1, y0, y1]) => ({ x0, x1, y0, y1 }));
  plotLines(canvas, [{ x: run.x_m, y: run.y_m, label: "path", colour: run.passed ? "#06d6a0" : "#ef476f", width: 2 }],
    { rects, equal: true, xLabel: "x m", yLabel: "y m" });
}

// ---------------------------------------------------------------- robot arm (#16)

export async function loadArm(state) {
  const r = await api("/api/arm");
  if (!r.episodes.length) {
    $("#arm-summary").textContent = "no arm telemetry stored (make run, or starbrain robot simulate)";
    return;
  }
  const armId = r.episodes[0].arm_id;
  const [s, err] = await Promise.all([
    api("/api/arm/series", { arm_id: armId, max_points: 2000 }),
    api("/api/arm/model-error", { arm_id: armId }),
  ]);
  state.arm = { series: s, error: err };
  $("#arm-summary").textContent = `${armId}: ${r.episodes.length} episode(s), ${s.total.toLocaleString()} rows ${fmtTime(s.time[0])} – ` +
    `${fmtTime(s.time[s.time.length - 1], "time")} UTC` + (r.episodes[0].payload_kg !== null ? `, payload ${fmtNum(r.episodes[0].payload_kg, 2)} kg` : "");
  const t = ms(s.time);
  plotLines($("#arm-torque"), [
    { x: t, y: s.tau_cmd_1_nm, label: "joint 1 commanded", colour: COLOURS[0] },
    { x: t, y: s.tau_meas_1_nm, label: "measured", colour: COLOURS[0], dash: [4, 3] },
    { x: t, y: s.tau_cmd_2_nm, label: "joint 2 commanded", colour: COLOURS[1] },
    { x: t, y: s.tau_meas_2_nm, label: "measured", colour: COLOURS[1], dash: [4, 3] },
  ], { xTime: true, yLabel: "torque N m" });
  const slider = $("#arm-time");
  slider.max = String(s.time.length - 1);
  slider.value = String(Math.min(Number(slider.value) || 0, s.time.length - 1));
  drawArm(state);
  $("#arm-error tbody").replaceChildren(...err.rows.map((e) =>
    el("tr", {}, el("td", {}, e.model), el("td", { class: "num" }, fmtNum(e.horizon_s, 2)),
      el("td", { class: "num" }, fmtNum(e.q_rmse_rad / DEG, 2)), el("td", { class: "num" }, fmtNum(e.qd_rmse_radps / DEG, 1)))));
  $("#arm-error-note").textContent = err.note;
}

/** The end-effector path and the two links at the slider's time. */
export function drawArm(state) {
  const s = state.arm?.series;
  if (!s) return;
  const k = Number($("#arm-time").value);
  const [l1, l2] = s.link_m ?? [0, 0];
  const q1 = s.q1_rad[k], q2 = s.q2_rad[k];
  const elbow = [l1 * Math.cos(q1), l1 * Math.sin(q1)];
  const tip = [elbow[0] + l2 * Math.cos(q1 + q2), elbow[1] + l2 * Math.sin(q1 + q2)];
  const reach = l1 + l2 || 1;
  plotLines($("#arm-drawing"), [
    { x: s.ee_x_m, y: s.ee_y_m, label: "end-effector path", colour: "#8a96ad" },
    { x: [0, elbow[0], tip[0]], y: [0, elbow[1], tip[1]], label: "links", colour: "#ffd166", width: 4 },
  ], { equal: true, xLabel: "x m", yLabel: "y m", rects: [{ x0: -reach, x1: reach, y0: -reach, y1: reach, colour: "#26324f" }] });
  $("#arm-time-label").textContent = `${fmtTime(s.time[k], "time")} · q1 ${fmtNum(q1 / DEG, 1)}° q2 ${fmtNum(q2 / DEG, 1)}°`;
}

// ---------------------------------------------------------------- GPU hall (#18)

export async function loadCompute(state) {
  let site = null;
  try {
    site = await api("/api/compute/site", { max_points: 2000 });
  } catch (err) {
    if (err.status !== 404) throw err;
    $("#cmp-summary").textContent = err.message;
  }
  if (site) {
    const t = ms(site.time);
    plotLines($("#cmp-power"), [
      { x: t, y: site.site_power_w.map((p) => p / 1e3), label: "board power" },
      { x: t, y: site.power_limit_w.map((p) => p / 1e3), label: "sum of limits", dash: [4, 3], colour: "#ff9f1c" },
    ], { xTime: true, yLabel: "site kW" });
    plotLines($("#cmp-temp"), [
      { x: t, y: site.gpu_temp_mean_c, label: "die mean" },
      { x: t, y: site.gpu_temp_max_c, label: "die max", colour: "#ef476f" },
      { x: t, y: site.memory_temp_max_c, label: "HBM max", colour: "#ffd166" },
    ], { xTime: true, yLabel: "°C" });
    const peak = Math.max(...site.site_power_w.filter((p) => p !== null));
    $("#cmp-summary").textContent = `${site.n_gpus[0]} GPUs, ${site.total} samples ${fmtTime(site.time[0])} – ${fmtTime(site.time[site.time.length - 1], "time")} UTC; ` +
      `peak ${fmtNum(peak / 1e3, 1)} kW, hottest die ${fmtNum(Math.max(...site.gpu_temp_max_c), 1)} °C (${site.hottest[0]?.gpu_id ?? "—"})`;
  }
  const plan = await api("/api/compute/schedule", { policy: $("#cmp-policy").value });
  state.compute = { site, plan };
  const hours = plan.time_s.map((x) => x / 3600);
  plotLines($("#cmp-schedule"), [
    { x: hours, y: plan.site_power_w.map((p) => p / 1e6), label: `${plan.policy} plan` },
    { x: [0, hours[hours.length - 1]], y: [plan.budget_w / 1e6, plan.budget_w / 1e6], label: "budget", colour: "#ef476f", dash: [5, 4] },
  ], { xLabel: "h from now", yLabel: "site MW" });
  const s = plan.summary, b = plan.baseline;
  $("#cmp-plan").textContent = `${plan.jobs.length} jobs: ${fmtNum(s.energy_mwh, 1)} MWh (no cap ${fmtNum(b.energy_mwh, 1)}, ` +
    `${fmtNum(100 * (1 - s.energy_mwh / b.energy_mwh), 0)}% less), makespan ${fmtNum(s.makespan_s / 3600, 2)} h (no cap ${fmtNum(b.makespan_s / 3600, 2)}), ` +
    `peak ${fmtNum(s.peak_site_mw, 1)} MW of ${fmtNum(plan.budget_w / 1e6, 1)}, ${s.deadline_misses} deadline misses`;
  const jobs = [...plan.jobs].sort((a, c) => a.start_s - c.start_s || a.job - c.job).slice(0, 25);
  $("#cmp-jobs tbody").replaceChildren(...jobs.map((j) =>
    el("tr", {}, el("td", {}, j.job), el("td", { class: "num" }, j.n_gpus.toLocaleString()),
      el("td", { class: "num" }, fmtNum(j.start_s / 60, 0)), el("td", { class: "num" }, fmtNum(j.end_s / 60, 0)),
      el("td", { class: "num" }, fmtNum(j.power_limit_w, 0)), el("td", { class: "num" }, j.deadline_s === null ? "—" : fmtNum(j.deadline_s / 60, 0)))));
}

// ---------------------------------------------------------------- posts (#17)

export async function loadPosts(state) {
  const [recent, bursts] = await Promise.all([
    api("/api/posts", { limit: 30 }),
    api("/api/posts/bursts", { include_spam: true }),
  ]);
  state.posts = { recent, bursts };
  $("#posts-summary").textContent = recent.total
    ? `${recent.total.toLocaleString()} posts stored; ${bursts.bursts.length - bursts.n_spam} bursts, ${bursts.n_spam} spam, ` +
      `${bursts.bursts.filter((b) => b.event_id).length} linked to a fleet event`
    : "no posts stored (make run, starbrain posts load, or POST /api/posts)";
  drawTimeline(bursts);
  $("#posts-bursts tbody").replaceChildren(...bursts.bursts.map((b) =>
    el("tr", { class: b.spam ? "muted" : "" }, el("td", {}, fmtTime(b.start, "month")), el("td", { title: b.example }, b.terms.slice(0, 4).join(" ")),
      el("td", { class: "num" }, b.n_posts), el("td", {}, b.spam ? "spam" : b.event_id ?? "—"),
      el("td", { class: "num" }, fmtNum(b.confidence, 2)))));
  $("#posts-recent").replaceChildren(...recent.posts.map((p) =>
    el("li", {}, el("span", { class: "muted" }, `${fmtTime(p.time, "month")} ${p.author} `), p.text)));
}

/** Bursts as bars (height: posts) on a time axis, the store's fleet events as marks. */
function drawTimeline(r) {
  const lines = r.bursts.map((b) => ({
    x: [Date.parse(b.start), Date.parse(b.start), Date.parse(b.end), Date.parse(b.end)],
    y: [0, b.n_posts, b.n_posts, 0],
    colour: b.spam ? "#8a96ad" : b.event_id ? "#06d6a0" : "#4cc9f0", width: 2,
  }));
  const marks = r.events.map((e) => ({ x: Date.parse(e.time), label: e.kind, colour: "#ef476f" }));
  if (lines.length && marks.length) {
    const lo = Math.min(...lines.map((l) => l.x[0])) - 3600e3, hi = Math.max(...lines.map((l) => l.x[2])) + 3600e3;
    marks.splice(0, marks.length, ...marks.filter((m) => m.x >= lo && m.x <= hi));
  }
  plotLines($("#posts-timeline"), lines.length ? lines : [{ x: [], y: [] }], { xTime: true, yLabel: "posts per burst", marks });
}

export async function searchPosts(state, event) {
  event?.preventDefault();
  const q = $("#posts-q").value.trim();
  if (!q) return;
  const r = await api("/api/posts/search", { q, k: 10, mode: $("#posts-mode").value });
  state.postSearch = r;
  $("#posts-hits").replaceChildren(...(r.hits.length ? r.hits.map((h) =>
    el("li", {}, el("span", { class: "muted" }, `${h.rank}. ${fmtTime(h.time, "month")} ${h.author ?? ""} `), h.text ?? "")) :
    [el("li", { class: "muted" }, "no posts matched")]));
}
