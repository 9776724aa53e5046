// Device page: status, completeness, SVG charts (raw, hourly band, flagged points), history.
"use strict";
(function () {
  const P = window.Pantau;
  const { t, el, svg } = P;
  const root = document.getElementById("device");
  const id = root.dataset.device;
  const base = "/api/v1/devices/" + encodeURIComponent(id);
  const W = 720, H = 220, L = 52, R = 12, T = 12, B = 30;
  const FLAGS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
  let hours = 24;

  function flagNames(bits) {
    return FLAGS.filter((f) => bits & f).map((f) => t("flag." + f)).join(", ");
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

  function chart(name, data, start, end) {
    const values = data.raw.map((p) => p[1]).concat(data.hourly.flatMap((p) => [p[2], p[3]]))
      .filter((v) => v !== null && Number.isFinite(v));
    const unit = data.unit ? " (" + data.unit + ")" : "";
    const box = el("figure", { class: "chart", "data-metric": name });
    box.append(el("h3", { text: name + unit }));
    if (!values.length) {
      box.append(el("p", { class: "empty", text: t("device.no_data") }));
      return box;
    }
    let lo = Math.min(...values), hi = Math.max(...values);
    const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
    lo -= pad; hi += pad;
    const x = (ms) => L + (ms - start) / (end - start) * (W - L - R);
    const y = (v) => T + (hi - v) / (hi - lo) * (H - T - B);
    const flagged = data.raw.filter((p) => p[2]);
    const latest = data.raw.length ? data.raw[data.raw.length - 1][1] : null;
    const summary = name + unit + ": min " + P.num(Math.min(...values), 1) + ", max " + P.num(Math.max(...values), 1) +
      (latest !== null ? ", " + P.num(latest, 1) + " @ " + P.when(data.raw[data.raw.length - 1][0]) : "") +
      ", " + flagged.length + " " + t("device.flagged");
    const g = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": summary });
    for (const v of niceTicks(lo, hi, 4)) {
      g.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
        svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", text: P.num(v, Math.abs(hi - lo) < 10 ? 1 : 0) }));
    }
    const stepH = hours <= 6 ? 1 : hours <= 24 ? 4 : 24;
    const first = Math.ceil(start / 3600000 / stepH) * stepH * 3600000;
    for (let ms = first; ms <= end; ms += stepH * 3600000) {
      g.append(svg("line", { class: "grid", x1: x(ms), x2: x(ms), y1: T, y2: H - B }),
        svg("text", { x: x(ms), y: H - B + 16, "text-anchor": "middle", text: P.shortWhen(ms) }));
    }
    g.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }),
      svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    // Hourly windows as steps: a band from min to max and the mean across each hour.
    const HOUR = 3600000;
    const hourly = data.hourly.filter((p) => p[1] !== null && p[0] + HOUR > start);
    if (hourly.length) {
      const band = svg("g", { class: "band" });
      let d = "", prevEnd = null;
      for (const p of hourly) {
        const x0 = x(Math.max(p[0], start)), x1 = x(Math.min(p[0] + HOUR, end));
        band.append(svg("rect", { x: x0, y: y(p[3]), width: Math.max(x1 - x0, 1), height: Math.max(y(p[2]) - y(p[3]), 1) }));
        d += (prevEnd === p[0] ? "L" : "M") + x0.toFixed(1) + " " + y(p[1]).toFixed(1) + "L" + x1.toFixed(1) + " " + y(p[1]).toFixed(1);
        prevEnd = p[0] + HOUR;
      }
      g.append(band, svg("path", { class: "hourly", d }));
    }
    const raw = data.raw.filter((p) => p[1] !== null && p[0] >= start);
    if (raw.length && hours <= 24) {
      const gap = 10 * 60000;
      let d = "", prev = null;
      for (const p of raw) {
        d += (prev === null || p[0] - prev > gap ? "M" : "L") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1);
        prev = p[0];
      }
      g.append(svg("path", { class: "raw", d }));
      // few points: show each one, so a lone reading is not invisible
      if (raw.length <= 300) {
        const dots = svg("g", { class: "dots" });
        for (const p of raw) dots.append(svg("circle", { cx: x(p[0]), cy: y(p[1]), r: 2 }));
        g.append(dots);
      }
    }
    for (const p of flagged) {
      if (p[1] === null) continue;
      const px = x(p[0]), py = y(p[1]);
      g.append(svg("polygon", { class: "flag", points: [[px, py - 6], [px + 5, py + 4], [px - 5, py + 4]].join(" ") },
        svg("title", { text: P.when(p[0]) + " · " + P.num(p[1], 1) + " · " + flagNames(p[2]) })));
    }
    box.append(g);
    return box;
  }

  async function loadCharts() {
    const charts = document.getElementById("charts");
    try {
      const data = await P.api("/dashboard/devices/" + encodeURIComponent(id) + "/series.json?hours=" + hours);
      const end = Date.now(), start = end - hours * 3600000;
      const names = Object.keys(data.metrics).sort();
      charts.replaceChildren(...(names.length ? names.map((n) => chart(n, data.metrics[n], start, end))
        : [el("p", { class: "empty", text: t("device.no_data") })]));
      const note = document.getElementById("raw-note");
      note.textContent = data.raw_limited ? t("device.raw_limited") : t("device.raw_omitted");
      note.hidden = data.raw_complete;
    } catch (e) {
      charts.replaceChildren(el("p", { class: "error", text: t("dash.load_failed") + ": " + e.message }));
    }
  }

  function fillTable(tableId, emptyId, rows, cells) {
    const table = document.getElementById(tableId);
    table.tBodies[0].replaceChildren(...rows.map((r) => el("tr", {}, ...cells(r).map((c) => el("td", {}, c)))));
    table.hidden = rows.length === 0;
    document.getElementById(emptyId).hidden = rows.length > 0;
  }

  async function loadDevice() {
    try {
      const [device, maintenance, calibrations] = await Promise.all([
        P.api(base), P.api(base + "/maintenance"), P.api(base + "/calibrations")]);
      const s = device.state;
      document.getElementById("reporting").replaceChildren(
        el("span", { class: "badge " + (s.reporting ? "flood-4" : "offline") },
          el("span", { class: "icon", "aria-hidden": "true" }), s.reporting ? t("device.reporting") : t("device.not_reporting")),
        " · " + t("dash.last_seen") + ": ", el("time", { datetime: s.last_seen || "", text: P.when(s.last_seen) }));
      document.getElementById("completeness").textContent = s.completeness_pct === null || s.completeness_pct === undefined
        ? (s.completeness_error || "—")
        : !s.expected_24h ? t("device.too_new")
        : P.num(s.completeness_pct, 1) + " % (" + P.num(s.readings_24h) + " " + t("device.of") + " " + P.num(s.expected_24h) + " " + t("device.readings") + ")";
      fillTable("maintenance", "no-maintenance", maintenance, (m) => [
        el("time", { datetime: m.visited_at, text: P.when(m.visited_at) }), m.technician, m.action, m.notes || ""]);
      fillTable("calibrations", "no-calibrations", calibrations, (c) => [
        el("time", { datetime: c.effective_from, text: P.when(c.effective_from) }), c.metric,
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
  loadDevice();
  loadCharts();
  setInterval(function () { if (!document.hidden) { loadCharts(); } }, 60000);
})();
