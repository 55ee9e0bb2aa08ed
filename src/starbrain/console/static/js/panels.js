// The loop's panels: conjunctions (list + details), telemetry charts with anomaly markers,
// the world-model registry, the loop's tasks and its live feed of published messages.

import { api } from "./api.js";
import { chartCanvas, el, fmtTime } from "./common.js";

const $ = (sel) => document.querySelector(sel);
const fmtNum = (v, d) => (v === null || v === undefined ? "—" : Number(v).toFixed(d));
const fmtPc = (p) => (p > 0 ? Number(p).toExponential(2) : "0");


// ---------------------------------------------------------------- conjunctions

export async function loadConjunctions(state, toast) {
  const sort = $("#conj-sort").value;
  const r = await api("/api/conjunctions", { sort, limit: 100 });
  $("#conj-summary").textContent = r.total
    ? `${r.total.toLocaleString()} conjunctions stored; ${r.conjunctions.length} shown (sorted by ${sort})`
    : "no conjunctions stored yet (the loop screens every window; or run starbrain conjunctions screen)";
  $("#conj-table tbody").replaceChildren(
    ...r.conjunctions.map((c) =>
      el(
        "tr",
        {
          "data-key": c.id,
          onclick: () => showConjunction(state, c, toast),
        },
        el("td", { title: c.name_1 ?? "" }, c.norad_id_1),
        el("td", { title: c.name_2 ?? "" }, c.norad_id_2),
        el("td", {}, fmtTime(c.tca, "month")),
        el("td", { class: "num" }, fmtNum(c.miss_distance_km, 3)),
        el("td", { class: "num" }, fmtNum(c.relative_speed_kmps, 2)),
        el("td", { class: "num" }, fmtPc(c.collision_probability)),
      ),
    ),
  );
}

async function showConjunction(state, c, toast) {
  try {
    const d = await api(`/api/conjunctions/${c.id}`);
    const o = (x) => `${x.name ?? ""} (NORAD ${x.norad_id})`;
    const rows = [
      ["objects", `${o(d.object_1)} × ${o(d.object_2)}`],
      ["TCA (UTC)", d.tca.replace("T", " ").replace("Z", "")],
      ["miss distance", `${fmtNum(d.miss_distance_km * 1000, 1)} m`],
      ["radial / in-track / cross-track", d.miss_rtn_km.map((v) => fmtNum(v * 1000, 1)).join(" / ") + " m"],
      ["relative speed", `${fmtNum(d.relative_speed_kmps, 3)} km/s`],
      ["relative velocity RTN", d.relative_velocity_rtn_kmps.map((v) => fmtNum(v, 3)).join(" / ") + " km/s"],
      ["collision probability", `${fmtPc(d.collision_probability)} (${d.pc_method ?? "—"})`],
      ["hard-body radius", `${fmtNum(d.hard_body_radius_m, 1)} m`],
      ["covariance", d.covariance_source ?? "—"],
      ["epochs", `${fmtTime(d.object_1.epoch)} / ${fmtTime(d.object_2.epoch)}`],
      ["screened", `${fmtTime(d.screened_at)} (threshold ${fmtNum(d.screening_threshold_km, 1)} km)`],
    ];
    const box = $("#conj-detail");
    box.replaceChildren(
      el("strong", {}, `Conjunction ${d.object_1.norad_id} × ${d.object_2.norad_id}`),
      el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    );
    box.hidden = false;
    box.dataset.key = c.id;
    state.conjunction = d;
    state.selectObject?.(d.object_1.norad_id); // object 1 and its ground track on the globe
    for (const tr of document.querySelectorAll("#conj-table tbody tr"))
      tr.classList.toggle("picked", tr.dataset.key === box.dataset.key);
  } catch (err) {
    toast(err.message);
  }
}

// ---------------------------------------------------------------- telemetry

export async function loadParameters(state, toast) {
  const r = await api("/api/telemetry/parameters");
  const select = $("#tm-parameter");
  const previous = select.value;
  select.replaceChildren(
    ...r.parameters.map((p) =>
      el("option", { value: `${p.apid}:${p.parameter}` }, `${p.parameter} (APID ${p.apid}, ${p.samples.toLocaleString()})`),
    ),
  );
  if (!r.parameters.length) {
    $("#tm-summary").textContent = "no telemetry stored yet (the loop's simulator or starbrain telemetry replay/listen)";
    return;
  }
  const preferred = r.parameters.find((p) => p.parameter === "battery_temperature");
  select.value = previous && [...select.options].some((o) => o.value === previous)
    ? previous
    : preferred ? `${preferred.apid}:${preferred.parameter}` : select.options[0].value;
  state.anomaliesAvailable = r.anomalies_available;
  await loadSeries(state, toast);
}

export async function loadSeries(state, toast) {
  const value = $("#tm-parameter").value;
  if (!value) return;
  const [apid, parameter] = [value.slice(0, value.indexOf(":")), value.slice(value.indexOf(":") + 1)];
  try {
    const s = await api("/api/telemetry/series", { parameter, apid, minutes: $("#tm-minutes").value, max_points: 1500 });
    state.series = s;
    drawSeries($("#tm-chart"), s);
    $("#tm-summary").textContent =
      `${s.total.toLocaleString()} samples ${fmtTime(s.start)} – ${fmtTime(s.stop, "time")} UTC` +
      (s.stride > 1 ? ` (every ${s.stride}th shown)` : "") +
      (s.anomalies.length ? `; ${s.anomalies.length} anomalies marked` : state.anomaliesAvailable ? "; no anomalies" : "; no detector has run");
    $("#tm-anomalies tbody").replaceChildren(
      ...s.anomalies.map((a) =>
        el("tr", {}, el("td", {}, fmtTime(a.start, "time")), el("td", {}, a.end ? fmtTime(a.end, "time") : "—"),
          el("td", {}, a.method ?? ""), el("td", { class: "num" }, fmtNum(a.score, 2)), el("td", {}, a.label ?? "")),
      ),
    );
  } catch (err) {
    toast(err.message);
  }
}

/** A time series on a canvas: the line, and each anomaly as a red band with a marker on top. */
export function drawSeries(canvas, s) {
  const { ctx, w, h } = chartCanvas(canvas, 220);
  const t = s.time.map((x) => Date.parse(x));
  const v = s.value;
  const pad = { l: 52, r: 10, t: 14, b: 22 };
  const t0 = Date.parse(s.start ?? s.time[0]), t1 = Date.parse(s.stop ?? s.time[s.time.length - 1]);
  const finite = v.filter((x) => x !== null);
  if (!finite.length || !(t1 > t0)) return;
  let lo = Math.min(...finite), hi = Math.max(...finite);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const span = hi - lo; lo -= span * 0.05; hi += span * 0.05;
  const X = (x) => pad.l + ((x - t0) / (t1 - t0)) * (w - pad.l - pad.r);
  const Y = (y) => h - pad.b - ((y - lo) / (hi - lo)) * (h - pad.t - pad.b);
  ctx.strokeStyle = "#26324f"; ctx.fillStyle = "#8a96ad"; ctx.font = "10px sans-serif";
  for (let k = 0; k <= 4; k++) {
    const y = lo + ((hi - lo) * k) / 4;
    ctx.beginPath(); ctx.moveTo(pad.l, Y(y)); ctx.lineTo(w - pad.r, Y(y)); ctx.stroke();
    ctx.fillText(y.toPrecision(4), 4, Y(y) + 3);
  }
  for (let k = 0; k <= 4; k++) {
    const x = t0 + ((t1 - t0) * k) / 4;
    ctx.fillText(new Date(x).toISOString().slice(11, 19), X(x) - 20, h - 6);
  }
  canvas.anomalyMarkers = 0;
  for (const a of s.anomalies) {
    const a0 = Math.max(t0, Date.parse(a.start)), a1 = Math.min(t1, Date.parse(a.end ?? a.start));
    ctx.fillStyle = "rgba(239, 71, 111, 0.25)";
    ctx.fillRect(X(a0), pad.t, Math.max(2, X(a1) - X(a0)), h - pad.t - pad.b);
    ctx.fillStyle = "#ef476f";
    ctx.beginPath(); ctx.moveTo(X(a0) - 5, pad.t - 2); ctx.lineTo(X(a0) + 5, pad.t - 2); ctx.lineTo(X(a0), pad.t + 7); ctx.fill();
    canvas.anomalyMarkers += 1;
  }
  ctx.strokeStyle = "#4cc9f0"; ctx.lineWidth = 1.2; ctx.beginPath();
  let pen = false;
  for (let k = 0; k < t.length; k++) {
    if (v[k] === null) { pen = false; continue; }
    if (pen) ctx.lineTo(X(t[k]), Y(v[k])); else ctx.moveTo(X(t[k]), Y(v[k]));
    pen = true;
  }
  ctx.stroke();
}

// ---------------------------------------------------------------- world models and the loop

export async function loadModels() {
  const r = await api("/api/models", { limit: 20 });
  const body = $("#models-table tbody");
  if (!r.models.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "no models registered yet")));
    return;
  }
  body.replaceChildren(
    ...r.models.flatMap((m) => {
      const head = el("tr", { class: "model" }, el("td", { colspan: 4 },
        el("strong", {}, m.name), ` · ${m.kind ?? ""} · ${fmtTime(m.created)} · ${m.device ?? ""}`));
      const rows = m.horizons.map((hz) =>
        el("tr", {}, el("td", { class: "num" }, hz.horizon_min >= 1440 ? `${fmtNum(hz.horizon_min / 1440, 1)} d` : `${fmtNum(hz.horizon_min, 0)} min`),
          el("td", { class: "num" }, fmtNum(hz.sgp4_median_km, 3)), el("td", { class: "num" }, fmtNum(hz.model_median_km, 3)),
          el("td", { class: "num" }, fmtNum(hz.median_ratio, 2))),
      );
      return [head, ...rows];
    }),
  );
}

export async function loadLoop(state) {
  const r = await api("/api/loop", { events: 30 });
  $("#loop-status").textContent = r.running
    ? `running · simulated ${fmtTime(r.sim_time)} UTC · ${r.speed ? `${r.speed}×` : "max speed"} · ${r.publisher}`
    : r.tasks.length ? "not running in this server (checkpoint below)" : "the loop has not run on this store";
  $("#loop-tasks tbody").replaceChildren(
    ...r.tasks.map((t) => el("tr", {}, el("td", {}, t.name), el("td", {}, fmtTime(t.done_until)), el("td", { class: "num" }, t.runs))),
  );
  if (!state.feedStarted) {
    state.feedStarted = true;
    for (const e of r.events.reverse()) addEvent(state, { subject: e.subject, sim_time: e.sim_time, ...(e.message ?? {}) });
  }
}

function describe(m) {
  switch (m.subject) {
    case "starbrain.conjunctions": return `${m.count} conjunctions ${fmtTime(m.from, "time")}–${fmtTime(m.to, "time")}`;
    case "starbrain.passes": return `${m.count} passes planned ${fmtTime(m.from, "time")}–${fmtTime(m.to, "time")}`;
    case "starbrain.catalog": return `catalogue: ${m.objects} objects, ${m.new} new sets`;
    case "starbrain.telemetry": return `telemetry: ${m.rows} values`;
    case "starbrain.models": return m.kind === "refit" ? `re-fitted ${m.model}` : `drift ${fmtNum(m.median_km, 3)} km median (${m.n} objects)`;
    case "starbrain.alerts": return m.message ?? m.kind;
    case "starbrain.anomalies": return `${m.count} anomalies`;
    default: return m.kind ?? "";
  }
}

export function addEvent(state, m) {
  state.events = (state.events ?? 0) + 1;
  $("#event-count").textContent = state.events;
  const list = $("#events");
  const item = el("li", { class: m.subject === "starbrain.alerts" ? "alert" : "" },
    el("span", { class: "muted" }, `${(m.sim_time ?? "").slice(11, 19)} ${m.subject.replace("starbrain.", "")} `), describe(m));
  list.prepend(item);
  while (list.children.length > 60) list.lastChild.remove();
}
