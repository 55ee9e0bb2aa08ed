// The Earth's surface as an equirectangular picture (longitude -180..180 left to right, latitude
// 90..-90 top to bottom): ocean, land from the vendored Natural Earth 1:110m land (world-atlas,
// TopoJSON) when present, and a 30-degree graticule. The 3-D globe uses it as a texture, the
// 2-D fallback map draws it directly.

export const SHELL_COLOURS = [
  "#4cc9f0", "#f72585", "#b5e48c", "#ffd166", "#9b5de5", "#ff8c42",
  "#06d6a0", "#ef476f", "#4895ef", "#c77dff", "#f4a261", "#8d99ae",
];

export function shellColour(id) {
  return SHELL_COLOURS[Math.min(id, SHELL_COLOURS.length - 1)];
}

/** Rings of [lon, lat] (degrees) from a TopoJSON topology's first object. */
export function decodeTopology(topo) {
  const [sx, sy] = topo.transform?.scale ?? [1, 1];
  const [tx, ty] = topo.transform?.translate ?? [0, 0];
  const arcs = topo.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map(([dx, dy]) => {
      x += dx;
      y += dy;
      return [x * sx + tx, y * sy + ty];
    });
  });
  const ring = (indices) => {
    const points = [];
    for (const i of indices) {
      const arc = i >= 0 ? arcs[i] : arcs[~i].slice().reverse();
      points.push(...(points.length ? arc.slice(1) : arc));
    }
    return points;
  };
  const rings = [];
  const visit = (geometry) => {
    if (geometry.type === "GeometryCollection") geometry.geometries.forEach(visit);
    else if (geometry.type === "Polygon") geometry.arcs.forEach((r) => rings.push(ring(r)));
    else if (geometry.type === "MultiPolygon") {
      geometry.arcs.forEach((polygon) => polygon.forEach((r) => rings.push(ring(r))));
    }
  };
  const first = Object.values(topo.objects)[0];
  if (first) visit(first);
  return rings;
}

/** Land rings, or null when the vendored file is missing. */
export async function loadLand() {
  try {
    const response = await fetch(new URL("../vendor/world-atlas/land-110m.json", import.meta.url));
    if (!response.ok) return null;
    return decodeTopology(await response.json());
  } catch {
    return null;
  }
}

/** Draw the map into a 2-D context covering x0..x0+w, y0..y0+h. */
export function drawEarthMap(ctx, land, x0 = 0, y0 = 0, w = ctx.canvas.width, h = ctx.canvas.height) {
  const px = (lon) => x0 + ((lon + 180) / 360) * w;
  const py = (lat) => y0 + ((90 - lat) / 180) * h;
  const ocean = ctx.createLinearGradient(0, y0, 0, y0 + h);
  ocean.addColorStop(0, "#0f2747");
  ocean.addColorStop(0.5, "#14345c");
  ocean.addColorStop(1, "#0f2747");
  ctx.fillStyle = ocean;
  ctx.fillRect(x0, y0, w, h);
  if (land) {
    ctx.beginPath();
    for (const r of land) {
      r.forEach(([lon, lat], k) => (k ? ctx.lineTo(px(lon), py(lat)) : ctx.moveTo(px(lon), py(lat))));
      ctx.closePath();
    }
    ctx.fillStyle = "#2c4a3a";
    ctx.fill("evenodd");
    ctx.strokeStyle = "#6f9c7f";
    ctx.lineWidth = Math.max(1, w / 2048);
    ctx.stroke();
  }
  ctx.strokeStyle = "rgba(170, 200, 255, 0.22)";
  ctx.lineWidth = Math.max(1, w / 2048);
  ctx.beginPath();
  for (let lon = -180; lon <= 180; lon += 30) {
    ctx.moveTo(px(lon), py(90));
    ctx.lineTo(px(lon), py(-90));
  }
  for (let lat = -60; lat <= 60; lat += 30) {
    ctx.moveTo(px(-180), py(lat));
    ctx.lineTo(px(180), py(lat));
  }
  ctx.stroke();
  ctx.strokeStyle = "rgba(255, 214, 102, 0.35)";
  ctx.beginPath();
  ctx.moveTo(px(-180), py(0));
  ctx.lineTo(px(180), py(0));
  ctx.stroke();
}

/** Sub-solar point (degrees) at a UTC time: a low-precision solar position (about 1 degree). */
export function subsolarPoint(date) {
  const d = (date.getTime() - Date.UTC(2000, 0, 1, 12)) / 86400000;
  const g = ((357.529 + 0.98560028 * d) * Math.PI) / 180;
  const q = 280.459 + 0.98564736 * d;
  const lambda = ((q + 1.915 * Math.sin(g) + 0.02 * Math.sin(2 * g)) * Math.PI) / 180;
  const eps = ((23.439 - 0.00000036 * d) * Math.PI) / 180;
  const dec = Math.asin(Math.sin(eps) * Math.sin(lambda));
  const ra = Math.atan2(Math.cos(eps) * Math.sin(lambda), Math.cos(lambda));
  const gmst = ((280.46061837 + 360.98564736629 * d) % 360) * (Math.PI / 180);
  let lon = ((ra - gmst) * 180) / Math.PI;
  lon = ((((lon + 180) % 360) + 360) % 360) - 180;
  return { lat: (dec * 180) / Math.PI, lon };
}
