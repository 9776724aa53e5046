// A zone or a selection of devices over a range: a preview of the rows and downloads of
// exactly the rows the API gives for it (/api/v1/readings, CSV, Parquet or NDJSON).
"use strict";
(function () {
  const P = window.Pantau;
  const { t, el } = P;
  const PREVIEW = 50;
  const devices = JSON.parse(document.getElementById("data-devices").textContent);
  const form = document.getElementById("selection");
  const zone = document.getElementById("d-zone");
  const metric = document.getElementById("d-metric");
  const picks = document.getElementById("d-devices");
  const start = document.getElementById("d-start");
  const end = document.getElementById("d-end");
  const problem = document.getElementById("d-error");

  // datetime-local in WIB (UTC+7, no daylight saving) <-> ISO with offset
  const local = (ms) => new Date(ms + 7 * 3600000).toISOString().slice(0, 16);
  const wib = (value) => value + ":00+07:00";
  const now = Math.floor(Date.now() / 60000) * 60000 + 60000;
  end.value = local(now);
  start.value = local(now - 24 * 3600000);

  function drawPicks() {
    const shown = devices.filter((d) => !zone.value || d.zone === zone.value);
    picks.replaceChildren(...shown.map((d) => el("label", { class: "inline-choice" },
      el("input", { type: "checkbox", name: "device", value: d.id }), " " + d.id + " · " + t("kind." + d.kind))));
  }
  zone.addEventListener("change", drawPicks);
  drawPicks();

  function params() {
    const q = new URLSearchParams();
    const chosen = Array.from(picks.querySelectorAll("input:checked")).map((i) => i.value);
    if (chosen.length) q.set("device", chosen.join(","));
    else if (zone.value) q.set("zone", zone.value);
    if (metric.value) q.set("metric", metric.value);
    q.set("start", wib(start.value));
    q.set("end", wib(end.value));
    const source = form.querySelector('input[name="source"]:checked').value;
    if (source !== "raw") q.set("source", source);
    return q;
  }

  function show(page, q) {
    const table = document.getElementById("d-rows");
    // column headers in the reader's language (the files keep the API's column names)
    const head = (c) => (t("col." + c) !== "col." + c ? t("col." + c) : c);
    const cell = (c, v) => (v === null || v === undefined ? "" : c === "time" ? P.when(v)
      : typeof v === "number" && c !== "flags" ? P.num(v, Number.isInteger(v) ? 0 : 2) : String(v));
    table.tHead.rows[0].replaceChildren(...page.columns.map((c) => el("th", { scope: "col", text: head(c) })));
    table.tBodies[0].replaceChildren(...page.data.map((row) => el("tr", {},
      ...page.columns.map((c) => el("td", { "data-label": head(c), text: cell(c, row[c]) })))));
    document.getElementById("d-count").textContent = page.next_cursor
      ? t("data.preview").replace("{n}", String(page.rows)) : t("data.all_rows").replace("{n}", String(page.rows));
    for (const link of document.querySelectorAll("#result a[data-format]")) {
      const f = new URLSearchParams(q);
      f.set("format", link.dataset.format);
      link.href = "/api/v1/readings?" + f.toString();
      link.setAttribute("download", "pantau-" + (q.get("zone") || "selection") + "." + link.dataset.format);
    }
    const result = document.getElementById("result");
    result.hidden = false;
    document.getElementById("result-h").focus();
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    problem.hidden = true;
    for (const input of [start, end]) {
      input.removeAttribute("aria-invalid");
      if (!input.value) {
        input.setAttribute("aria-invalid", "true");
        problem.textContent = form.querySelector("label[for='" + input.id + "']").textContent + ": " + t("valid.required");
        problem.hidden = false;
        input.focus();
        return;
      }
    }
    const q = params();
    try {
      const preview = new URLSearchParams(q);
      preview.set("limit", String(PREVIEW));
      show(await P.api("/api/v1/readings?" + preview.toString()), q);
    } catch (e) {
      problem.textContent = e.message;
      problem.hidden = false;
      problem.focus();
    }
  });
})();
