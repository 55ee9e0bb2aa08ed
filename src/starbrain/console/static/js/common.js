// What the console's modules share, defined once: the degree, the Earth radius the scene is
// drawn to and how a UTC time is shown.

/** Radians per degree: `deg * DEG` is radians, `rad / DEG` is degrees. */
export const DEG = Math.PI / 180;

/** WGS-84 equatorial radius (km): the globe's unit sphere. */
export const EARTH_RADIUS_KM = 6378.137;

/**
 * A UTC ISO 8601 time as the console shows it, "—" when missing.
 * part: "full" -> "YYYY-MM-DD hh:mm:ss", "month" -> "MM-DD hh:mm:ss", "time" -> "hh:mm:ss".
 */
export function fmtTime(iso, part = "full") {
  if (!iso) return "—";
  const text = iso.slice(0, 19).replace("T", " ");
  return part === "month" ? text.slice(5) : part === "time" ? text.slice(11) : text;
}

/** A DOM element: attributes (class, style, on<event> handlers, others as given) and children
 * (nodes, or anything else as text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children.map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return node;
}

/** A canvas cleared to the charts' background at the device's pixel ratio: `{ctx, w, h}` in
 * CSS pixels (`h` defaults to `defaultH` when the canvas has no laid-out height). */
export function chartCanvas(canvas, defaultH = 220) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 480, h = canvas.clientHeight || defaultH;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.fillStyle = "#0d1426";
  ctx.fillRect(0, 0, w, h);
  return { ctx, w, h };
}
