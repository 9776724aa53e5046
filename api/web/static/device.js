// Device page: status, completeness over the range shown, charts that speak the domain
// (ISPU history with its category bands first for air stations, Siaga lines for water
// levels, pollutants in ISPU order with their names), downloads of exactly those rows.
"use strict";
(function () {
  const P = window.Pantau;
  const { t, el, svg } = P;
  const root = document.getElementById("device");
  const id = root.dataset.device;
  const kind = root.dataset.kind;
  const siaga = JSON.parse(root.dataset.siaga || "[]");
  const base = "/api/v1/devices/" + encodeURIComponent(id);
  const H = 230, L = 56, R = 14, T = 12, B = 34;
  const FLAGS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
  // the pollutants in the order of the ISPU table (Permen LHK P.14/2020), then the rest
  const ORDER = ["pm10", "pm25", "so2", "co", "o3", "no2", "hc", "water_level", "rain", "temperature",
    "humidity", "vehicle_count", "speed", "occupancy"];
  const ISPU_BANDS = [[0, 50, "Baik"], [50, 100, "Sedang"], [100, 200, "Tidak Sehat"], [200, 300, "Sangat Tidak Sehat"], [300, 500, "Berbahaya"]];
  let hours = 24;
  let range = null; // {start, end} ms of what is on screen
  let lastSeries = null, lastIspu = null;

  function flagNames(bits) {
    return FLAGS.filter((f) => bits & f).map((f) => t("flag." + f)).join(", ");
  }
  function metricName(name) {
    const key = "metric." + name;
    return t(key) !== key ? t(key) : name;
  }

  function niceTicks(lo, hi, count) {
    const span = hi - lo || 1;
    const step0 = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
    return out;
  }

  function quantile(sorted, q) {
    const pos = (sorted.length - 1) * q;
    const i = Math.floor(pos);
    return sorted[i] + (sorted[Math.min(i + 1, sorted.length - 1)] - sorted[i]) * (pos - i);
  }

  // The y range from the trustworthy values: unflagged readings (their 1st-99th percentile
  // when there are many) and hourly means; a flagged or lone extreme is drawn at the edge
  // with its real value in its tooltip instead of flattening the series.
  function yRange(data, extra) {
    let values = data.raw.filter((p) => !p[2] && p[1] !== null).map((p) => p[1])
      .concat(data.hourly.filter((p) => p[1] !== null && !p[4]).map((p) => p[1]));
    if (!values.length) values = data.raw.filter((p) => p[1] !== null).map((p) => p[1]);
    if (!values.length) values = data.hourly.filter((p) => p[1] !== null).map((p) => p[1]);
    values = values.filter(Number.isFinite).sort((a, b) => a - b);
    if (!values.length) return null;
    let lo = values.length >= 50 ? quantile(values, 0.01) : values[0];
    let hi = values.length >= 50 ? quantile(values, 0.99) : values[values.length - 1];
    for (const v of extra) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const pad = (hi - lo) * 0.12 || Math.abs(hi) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }

  const hourTick = new Intl.DateTimeFormat(P.locale, { timeZone: "Asia/Jakarta", hour: "2-digit", minute: "2-digit", hour12: false });
  const dayTick = new Intl.DateTimeFormat(P.locale, { timeZone: "Asia/Jakarta", day: "numeric", month: "short" });
  // time axis labels in WIB: hours within a day (the date at midnight), days over a week
  function tick(ms) {
    const wibHour = new Date(ms + 7 * 3600000).getUTCHours();
    return hours > 24 || wibHour === 0 ? dayTick.format(ms) : hourTick.format(ms);
  }

  function frame(box, lo, hi, label) {
    const W = Math.max(300, Math.round(box.clientWidth || 700) - 16);
    const x = (ms) => L + (ms - range.start) / (range.end - range.start) * (W - L - R);
    const y = (v) => T + (hi - v) / (hi - lo) * (H - T - B);
    const g = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": label });
    for (const v of niceTicks(lo, hi, 4)) {
      g.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
        svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", text: P.num(v, Math.abs(hi - lo) < 10 ? 1 : 0) }));
    }
    const stepH = hours <= 6 ? (W < 500 ? 2 : 1) : hours <= 24 ? (W < 500 ? 6 : 3) : (W < 500 ? 48 : 24);
    const WIB = 7 * 3600000; // ticks on WIB hours (00, 06, 12, 18 …)
    const first = Math.ceil((range.start + WIB) / 3600000 / stepH) * stepH * 3600000 - WIB;
    for (let ms = first; ms <= range.end; ms += stepH * 3600000) {
      g.append(svg("line", { class: "grid", x1: x(ms), x2: x(ms), y1: T, y2: H - B }),
        svg("text", { x: x(ms), y: H - B + 18, "text-anchor": "middle", text: tick(ms) }));
    }
    g.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }),
      svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    return { g, x, y, W };
  }

  function chart(name, data) {
    const unit = data.unit ? " (" + data.unit + ")" : "";
    const box = el("figure", { class: "chart", "data-metric": name });
    box.append(el("h3", { text: metricName(name) + unit }));
    document.getElementById("charts").append(box);
    const lines = name === "water_level" ? siaga : [];
    const ys = yRange(data, lines);
    if (!ys) {
      box.append(el("p", { class: "empty", text: t("device.no_data") }));
      return box;
    }
    const [lo, hi] = ys;
    const values = data.raw.map((p) => p[1]).filter((v) => v !== null);
    const flagged = data.raw.filter((p) => p[2]);
    const latest = data.raw.length ? data.raw[data.raw.length - 1] : null;
    const summary = metricName(name) + unit + (values.length ? ": min " + P.num(Math.min(...values), 1) + ", max " + P.num(Math.max(...values), 1) : "") +
      (latest ? ", " + P.num(latest[1], 1) + " @ " + P.when(latest[0]) : "") + ", " + flagged.length + " " + t("device.flagged");
    const { g, x, y, W } = frame(box, lo, hi, summary);
    const clampY = (v) => y(Math.min(hi, Math.max(lo, v)));
    // Siaga thresholds of this station, labelled
    lines.forEach(function (cm, i) {
      const level = 3 - i;
      if (cm < lo || cm > hi) return;
      g.append(svg("line", { class: "siaga siaga-" + level, x1: L, x2: W - R, y1: y(cm), y2: y(cm) }),
        svg("text", { class: "siaga-label", x: W - R - 4, y: y(cm) - 4, "text-anchor": "end", text: "Siaga " + level + " · " + P.num(cm, 0) + " " + t("unit.cm") }));
    });
    const HOUR = 3600000;
    const hourly = data.hourly.filter((p) => p[1] !== null && p[0] + HOUR > range.start);
    if (hourly.length) {
      const band = svg("g", { class: "band" });
      let d = "", prevEnd = null;
      for (const p of hourly) {
        const x0 = x(Math.max(p[0], range.start)), x1 = x(Math.min(p[0] + HOUR, range.end));
        band.append(svg("rect", { x: x0, y: clampY(p[3]), width: Math.max(x1 - x0, 1), height: Math.max(clampY(p[2]) - clampY(p[3]), 1) }));
        d += (prevEnd === p[0] ? "L" : "M") + x0.toFixed(1) + " " + clampY(p[1]).toFixed(1) + "L" + x1.toFixed(1) + " " + clampY(p[1]).toFixed(1);
        prevEnd = p[0] + HOUR;
      }
      g.append(band, svg("path", { class: "hourly", d }));
    }
    const raw = data.raw.filter((p) => p[1] !== null && p[0] >= range.start && !p[2]);
    if (raw.length && hours <= 24) {
      const gap = 10 * 60000;
      let d = "", prev = null;
      for (const p of raw) {
        d += (prev === null || p[0] - prev > gap ? "M" : "L") + x(p[0]).toFixed(1) + " " + clampY(p[1]).toFixed(1);
        prev = p[0];
      }
      g.append(svg("path", { class: "raw", d }));
      if (raw.length <= 300) {
        const dots = svg("g", { class: "dots" });
        for (const p of raw) dots.append(svg("circle", { cx: x(p[0]), cy: clampY(p[1]), r: 2 }));
        g.append(dots);
      }
    }
    for (const p of flagged) {
      if (p[1] === null || p[0] < range.start) continue;
      const off = p[1] > hi || p[1] < lo;
      const px = x(p[0]), py = clampY(p[1]);
      g.append(svg("polygon", { class: off ? "flag offscale" : "flag", points: [[px, py - 6], [px + 5, py + 4], [px - 5, py + 4]].join(" ") },
        svg("title", { text: P.when(p[0]) + " · " + P.num(p[1], 1) + (data.unit ? " " + data.unit : "") + " · " + flagNames(p[2]) + (off ? " · " + t("device.offscale") : "") })));
    }
    box.append(g);
    return box;
  }

  // ISPU per hour, over the category bands (colours and names of Permen LHK P.14/2020)
  function ispuChart(points) {
    const holder = document.getElementById("ispu-chart");
    const box = el("figure", { class: "chart", "data-metric": "ispu" });
    box.append(el("h3", { text: t("device.ispu_history") }));
    holder.replaceChildren(box);
    if (!points.length) {
      box.append(el("p", { class: "empty", text: t("device.no_data") }));
      return;
    }
    const top = Math.max(...points.map((p) => p.index));
    const hi = Math.min(500, Math.max(110, Math.ceil(top / 50) * 50 + 20));
    const latest = points[points.length - 1];
    const { g, x, y, W } = frame(box, 0, hi, t("device.ispu_history") + ": " + latest.index + " " + t("ispu." + latest.category));
    for (const [a, b2, name] of ISPU_BANDS) {
      if (a >= hi) continue;
      g.append(svg("rect", { class: "ispu-band " + P.ispuClass(name), x: L, width: W - L - R, y: y(Math.min(b2, hi)), height: y(a) - y(Math.min(b2, hi)), fill: "var(--c)" }),
        svg("text", { x: L + 4, y: y(Math.min(b2, hi)) + 13, text: t("ispu." + name) }));
    }
    let d = "";
    for (const p of points) {
      const ms = Date.parse(p.time);
      const x0 = x(Math.max(ms, range.start)), x1 = x(Math.min(ms + 3600000, range.end));
      d += (d ? "L" : "M") + x0.toFixed(1) + " " + y(p.index).toFixed(1) + "L" + x1.toFixed(1) + " " + y(p.index).toFixed(1);
    }
    g.append(svg("path", { class: "ispu-line", d }));
    box.append(g, el("p", { class: "meta" }, t("ispu.index") + " " + latest.index + " ", P.ispuBadge(latest.category, latest.index),
      " · " + t("public.hour") + " " + P.hourRange(latest.time)));
  }

  function drawCharts() {
    const charts = document.getElementById("charts");
    charts.replaceChildren();
    if (lastIspu) ispuChart(lastIspu);
    if (!lastSeries) return;
    const names = Object.keys(lastSeries.metrics).sort((a, b) => {
      const ia = ORDER.indexOf(a), ib = ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    if (!names.length) charts.append(el("p", { class: "empty", text: t("device.no_data") }));
    for (const n of names) chart(n, lastSeries.metrics[n]);
  }

  function iso(ms) { return new Date(ms).toISOString(); }

  function downloads() {
    const source = document.querySelector('input[name="dl-source"]:checked').value;
    for (const link of document.querySelectorAll(".download a[data-format]")) {
      const q = new URLSearchParams({ device: id, start: iso(range.start), end: iso(range.end), format: link.dataset.format });
      if (source !== "raw") q.set("source", source);
      link.href = "/api/v1/readings?" + q.toString();
      link.setAttribute("download", "pantau-" + id + "-" + (source === "raw" ? "raw" : "1h") + "." + link.dataset.format);
    }
    document.getElementById("dl-range").textContent = P.when(range.start) + " – " + P.when(range.end);
  }
  for (const radio of document.querySelectorAll('input[name="dl-source"]')) radio.addEventListener("change", downloads);

  async function loadCharts() {
    const end = Math.floor(Date.now() / 60000) * 60000 + 60000;
    range = { start: end - hours * 3600000, end };
    downloads();
    loadCompleteness();
    try {
      const asks = [P.api("/dashboard/devices/" + encodeURIComponent(id) + "/series.json?hours=" + hours)];
      if (kind === "air_quality") {
        const q = new URLSearchParams({ device: id, start: iso(range.start), end: iso(range.end) });
        asks.push(P.api("/api/v1/ispu/history?" + q.toString()));
      }
      const [series, ispu] = await Promise.all(asks);
      lastSeries = series;
      lastIspu = ispu ? (ispu[0] ? ispu[0].points : []) : null;
      drawCharts();
      const note = document.getElementById("raw-note");
      note.textContent = series.raw_limited ? t("device.raw_limited") : t("device.raw_omitted");
      note.hidden = series.raw_complete;
    } catch (e) {
      document.getElementById("charts").replaceChildren(el("p", { class: "error", text: t("dash.load_failed") + ": " + e.message }));
    }
  }

  // Readings received over the range on screen against what the interval promises.
  async function loadCompleteness() {
    const box = document.getElementById("completeness");
    try {
      const q = new URLSearchParams({ device: id, start: iso(range.start), end: iso(Math.min(range.end, Date.now())) });
      const report = await P.api("/api/v1/completeness?" + q.toString());
      const rows = report.devices;
      if (!rows.length) { box.textContent = "—"; return; }
      const received = rows.reduce((s, r) => s + r.received, 0);
      const expected = rows.reduce((s, r) => s + r.expected, 0);
      const pct = Math.min(100, 100 * received / Math.max(1, expected));
      box.textContent = P.num(pct, 1) + " % (" + P.num(received) + " " + t("device.of") + " " + P.num(expected) + " " +
        t("device.readings") + ", " + document.querySelector('.range button[aria-pressed="true"]').textContent + ")";
    } catch (e) {
      box.textContent = e.message;
    }
  }

  function fillTable(tableId, emptyId, rows, cells) {
    const table = document.getElementById(tableId);
    const heads = Array.from(table.tHead.rows[0].cells).map((c) => c.textContent);
    table.tBodies[0].replaceChildren(...rows.map((r) => el("tr", {}, ...cells(r).map((c, i) => el("td", { "data-label": heads[i] }, c)))));
    table.hidden = rows.length === 0;
    document.getElementById(emptyId).hidden = rows.length > 0;
  }

  async function loadDevice() {
    try {
      const [device, maintenance, calibrations] = await Promise.all([
        P.api(base), P.api(base + "/maintenance"), P.api(base + "/calibrations")]);
      const s = device.state;
      document.getElementById("reporting").replaceChildren(
        el("span", { class: "badge " + (s.reporting ? "ispu-baik" : "offline") },
          el("span", { class: "icon", "aria-hidden": "true" }), s.reporting ? t("device.reporting") : t("device.not_reporting")),
        " · " + t("dash.last_seen") + ": ", el("time", { datetime: s.last_seen || "", text: P.when(s.last_seen) }));
      fillTable("maintenance", "no-maintenance", maintenance, (m) => [
        el("time", { datetime: m.visited_at, text: P.when(m.visited_at) }), m.technician, m.action, m.notes || ""]);
      fillTable("calibrations", "no-calibrations", calibrations, (c) => [
        el("time", { datetime: c.effective_from, text: P.when(c.effective_from) }), metricName(c.metric),
        c.coefficients.map((v) => P.num(v, 3)).join(" · "), c.by + (c.reference ? " (" + c.reference + ")" : "")]);
    } catch (e) {
      const box = document.getElementById("device-error");
      box.textContent = t("dash.load_failed") + ": " + e.message;
      box.hidden = false;
    }
  }

  for (const button of document.querySelectorAll(".range button")) {
    button.addEventListener("click", function () {
      hours = Number(button.dataset.hours);
      for (const b of document.querySelectorAll(".range button")) b.setAttribute("aria-pressed", String(b === button));
      loadCharts();
    });
  }
  let resizing = 0;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(drawCharts, 150);
  });
  loadDevice();
  loadCharts();
  setInterval(function () { if (!document.hidden) { loadCharts(); } }, 60000);
})();
