// Porkchop plot on a canvas: launch date (x) by arrival date (y), a C3 heat map with C3 contours
// (marching squares), dashed time-of-flight contours and the type I / II minimum-C3 transfers.

const PAD = { left: 64, right: 16, top: 28, bottom: 52 };
const C3_LEVELS = [8, 9, 10, 11, 12, 13, 14, 16, 18, 20, 25, 30, 40, 50, 60, 80, 100];

/** Segments [x1, y1, x2, y2] in grid coordinates (i along rows, j along columns). */
export function contourSegments(values, level) {
  const segments = [];
  const n = values.length;
  const m = n ? values[0].length : 0;
  for (let i = 0; i + 1 < n; i++) {
    for (let j = 0; j + 1 < m; j++) {
      const a = values[i][j];
      const b = values[i + 1][j];
      const c = values[i + 1][j + 1];
      const d = values[i][j + 1];
      if (a === null || b === null || c === null || d === null) continue;
      const code = (a > level ? 1 : 0) | (b > level ? 2 : 0) | (c > level ? 4 : 0) | (d > level ? 8 : 0);
      if (code === 0 || code === 15) continue;
      const t = (p, q) => (level - p) / (q - p);
      const ab = [i + t(a, b), j];
      const bc = [i + 1, j + t(b, c)];
      const cd = [i + t(d, c), j + 1];
      const da = [i, j + t(a, d)];
      const edges = {
        1: [[da, ab]], 14: [[da, ab]],
        2: [[ab, bc]], 13: [[ab, bc]],
        3: [[da, bc]], 12: [[da, bc]],
        4: [[bc, cd]], 11: [[bc, cd]],
        6: [[ab, cd]], 9: [[ab, cd]],
        7: [[da, cd]], 8: [[da, cd]],
      }[code];
      if (edges) {
        for (const [p, q] of edges) segments.push([p[0], p[1], q[0], q[1]]);
        continue;
      }
      // saddles (5, 10): decide by the centre value
      const centre = (a + b + c + d) / 4 > level;
      const pairs = (code === 5) === centre ? [[da, cd], [ab, bc]] : [[da, ab], [bc, cd]];
      for (const [p, q] of pairs) segments.push([p[0], p[1], q[0], q[1]]);
    }
  }
  return segments;
}

function heatColour(t) {
  // dark blue (low C3, good) -> teal -> yellow -> red (high)
  const stops = [[13, 42, 94], [22, 120, 140], [120, 190, 90], [240, 200, 70], [200, 60, 60]];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const k = Math.min(stops.length - 2, Math.floor(x));
  const f = x - k;
  return stops[k].map((v, i) => Math.round(v + (stops[k + 1][i] - v) * f));
}

function monthTicks(dates) {
  const first = new Date(dates[0]);
  const last = new Date(dates[dates.length - 1]);
  const ticks = [];
  const d = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 1));
  const span = (last - first) / 86400000;
  const every = span > 500 ? 3 : span > 250 ? 2 : 1;
  for (; d <= last; d.setUTCMonth(d.getUTCMonth() + every)) ticks.push(new Date(d));
  return ticks;
}

export class PorkchopPlot {
  constructor(canvas, readout) {
    this.canvas = canvas;
    this.readout = readout;
    this.data = null;
    canvas.addEventListener("mousemove", (e) => this.hover(e));
    new ResizeObserver(() => this.data && this.draw(this.data)).observe(canvas);
  }

  /** Put a label on one of the segments, away from labels already placed. */
  label(ctx, segs, ax, text, placed, dy) {
    for (const f of [0.33, 0.5, 0.67, 0.17, 0.83, 0.05, 0.95]) {
      const [i, j] = segs[Math.floor(f * (segs.length - 1))];
      const x = ax.gx(i);
      const y = ax.gy(j);
      if (placed.every(([px, py]) => Math.hypot(px - x, py - y) > 36)) {
        placed.push([x, y]);
        ctx.fillText(text, x + 2, y + dy);
        return;
      }
    }
  }

  size() {
    return { w: this.canvas.clientWidth || 640, h: this.canvas.clientHeight || 480 };
  }

  axes() {
    const { w, h } = this.size();
    const d = this.data;
    const t0 = Date.parse(d.launch[0]);
    const t1 = Date.parse(d.launch[d.launch.length - 1]);
    const a0 = Date.parse(d.arrival[0]);
    const a1 = Date.parse(d.arrival[d.arrival.length - 1]);
    const pw = w - PAD.left - PAD.right;
    const ph = h - PAD.top - PAD.bottom;
    return {
      x: (t) => PAD.left + ((t - t0) / (t1 - t0)) * pw,
      y: (t) => PAD.top + ph - ((t - a0) / (a1 - a0)) * ph,
      gx: (i) => PAD.left + (i / (d.launch.length - 1)) * pw,
      gy: (j) => PAD.top + ph - (j / (d.arrival.length - 1)) * ph,
      pw, ph,
    };
  }

  draw(data) {
    this.data = data;
    const { w, h } = this.size();
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#0d1426";
    ctx.fillRect(0, 0, w, h);
    const nl = data.launch.length;
    const na = data.arrival.length;
    if (nl < 2 || na < 2) return;
    const ax = this.axes();
    const finite = data.c3_km2_s2.flat().filter((v) => v !== null);
    const cMin = Math.min(...finite);
    const cMax = cMin + 45;

    // heat map: one pixel per cell, scaled up
    const img = new ImageData(nl, na);
    for (let i = 0; i < nl; i++) {
      for (let j = 0; j < na; j++) {
        const v = data.c3_km2_s2[i][j];
        const k = 4 * ((na - 1 - j) * nl + i);
        if (v === null || v > cMax * 1.5) { img.data[k + 3] = 0; continue; }
        const [r, g, b] = heatColour((v - cMin) / (cMax - cMin));
        img.data.set([r, g, b, 200], k);
      }
    }
    const tmp = document.createElement("canvas");
    tmp.width = nl;
    tmp.height = na;
    tmp.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(tmp, ax.gx(0), ax.gy(na - 1), ax.pw, ax.ph);

    // C3 contours with labels
    ctx.lineWidth = 1;
    ctx.font = "10px system-ui, sans-serif";
    const placed = [];
    for (const level of C3_LEVELS.filter((l) => l > cMin && l < cMax)) {
      const segs = contourSegments(data.c3_km2_s2, level);
      ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
      ctx.beginPath();
      for (const [i1, j1, i2, j2] of segs) {
        ctx.moveTo(ax.gx(i1), ax.gy(j1));
        ctx.lineTo(ax.gx(i2), ax.gy(j2));
      }
      ctx.stroke();
      if (segs.length) {
        ctx.fillStyle = "#fff";
        this.label(ctx, segs, ax, String(level), placed, -2);
      }
    }
    // time-of-flight contours
    const tofs = data.tof_days.flat().filter((v) => v !== null);
    const tMin = Math.ceil(Math.min(...tofs) / 50) * 50;
    ctx.setLineDash([4, 4]);
    ctx.strokeStyle = "rgba(160, 180, 220, 0.6)";
    for (let level = tMin; level < Math.max(...tofs); level += 50) {
      const segs = contourSegments(data.tof_days, level);
      ctx.beginPath();
      for (const [i1, j1, i2, j2] of segs) {
        ctx.moveTo(ax.gx(i1), ax.gy(j1));
        ctx.lineTo(ax.gx(i2), ax.gy(j2));
      }
      ctx.stroke();
      if (segs.length) {
        ctx.fillStyle = "rgba(190, 205, 235, 0.9)";
        this.label(ctx, segs, ax, `${level} d`, placed, 10);
      }
    }
    ctx.setLineDash([]);

    // minima
    for (const [best, label] of [[data.best_type1, "I"], [data.best_type2, "II"]]) {
      if (!best) continue;
      const x = ax.x(Date.parse(best.launch));
      const y = ax.y(Date.parse(best.arrival));
      ctx.fillStyle = "#fff";
      ctx.strokeStyle = "#000";
      ctx.beginPath();
      ctx.arc(x, y, 4, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      ctx.fillText(`type ${label}: C3 ${best.c3_km2_s2.toFixed(1)}`, x + 7, y + 4);
    }

    // axes
    ctx.strokeStyle = "#3a4868";
    ctx.strokeRect(PAD.left, PAD.top, ax.pw, ax.ph);
    ctx.fillStyle = "#8a96ad";
    ctx.textAlign = "center";
    for (const t of monthTicks(data.launch)) {
      const x = ax.x(t.getTime());
      ctx.fillRect(x, PAD.top + ax.ph, 1, 4);
      ctx.fillText(t.toISOString().slice(0, 7), x, PAD.top + ax.ph + 16);
    }
    ctx.fillText(`launch (${data.departure})`, PAD.left + ax.pw / 2, h - 12);
    ctx.textAlign = "right";
    for (const t of monthTicks(data.arrival)) {
      const y = ax.y(t.getTime());
      ctx.fillRect(PAD.left - 4, y, 4, 1);
      ctx.fillText(t.toISOString().slice(0, 7), PAD.left - 6, y + 3);
    }
    ctx.save();
    ctx.translate(14, PAD.top + ax.ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(`arrival (${data.target})`, 0, 0);
    ctx.restore();
    ctx.textAlign = "left";
    ctx.fillStyle = "#dfe6f3";
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(`Earth → Mars ${data.window}: launch C3 (km²/s²), step ${data.step_days} d`, PAD.left, 18);
  }

  hover(event) {
    if (!this.data) return;
    const rect = this.canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    const ax = this.axes();
    const nl = this.data.launch.length;
    const na = this.data.arrival.length;
    const i = Math.round(((x - PAD.left) / ax.pw) * (nl - 1));
    const j = Math.round(((PAD.top + ax.ph - y) / ax.ph) * (na - 1));
    if (i < 0 || j < 0 || i >= nl || j >= na) return;
    const c3 = this.data.c3_km2_s2[i][j];
    const fmt = (v, d) => (v === null ? "—" : v.toFixed(d));
    this.readout.textContent =
      `launch ${this.data.launch[i].slice(0, 10)} · arrival ${this.data.arrival[j].slice(0, 10)} · ` +
      `C3 ${fmt(c3, 2)} km²/s² · v∞ arr ${fmt(this.data.vinf_arr_kms[i][j], 2)} km/s · ` +
      `TOF ${fmt(this.data.tof_days[i][j], 0)} d · Δv ${fmt(this.data.dv_total_kms[i][j], 2)} km/s`;
  }
}
