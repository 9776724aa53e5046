// Device registration for technicians (phone-friendly); shows the MQTT credentials once.
"use strict";
(function () {
  const P = window.Pantau;
  const { t } = P;
  const form = document.getElementById("register");
  const problem = document.getElementById("reg-error");
  const kind = document.getElementById("f-kind");
  const zone = document.getElementById("f-zone");
  const lat = document.getElementById("f-lat");
  const lon = document.getElementById("f-lon");
  const FIELD_INPUT = { id: "f-id", kind: "f-kind", zone: "f-zone", latitude: "f-lat", longitude: "f-lon",
    model: "f-model", address: "f-address", siaga: "f-s3", qc: "f-qc", notes: "f-notes" };

  const label = (inputId) => {
    const node = form.querySelector("label[for='" + inputId + "']");
    return node ? node.textContent : inputId;
  };
  P.setFieldLabels(Object.fromEntries(Object.entries(FIELD_INPUT).map(([field, inputId]) => [field, label(inputId)])));

  // The browser's own validation messages are in the browser's language; these are in the page's.
  function invalidText(input) {
    const v = input.validity;
    if (v.valueMissing) return t("valid.required");
    if (v.patternMismatch) return input.id === "f-id" ? t("valid.id_pattern") : t("valid.pattern");
    if (v.badInput || v.typeMismatch) return t("valid.number");
    if (v.rangeUnderflow || v.rangeOverflow) return t("valid.range").replace("{min}", input.min).replace("{max}", input.max);
    return t("valid.invalid");
  }

  function showSiaga() {
    document.getElementById("siaga").hidden = kind.value !== "water_level";
  }
  kind.addEventListener("change", showSiaga);
  showSiaga();

  // A zone's centre is a good first guess until the technician gives the exact spot.
  function zoneCentre(force) {
    const option = zone.selectedOptions[0];
    if (!option) return;
    if (force || !lat.value) lat.value = option.dataset.lat;
    if (force || !lon.value) lon.value = option.dataset.lon;
  }
  let guessed = true;
  zone.addEventListener("change", function () { zoneCentre(guessed); });
  for (const input of [lat, lon]) input.addEventListener("input", function () { guessed = false; });
  zoneCentre(false);

  const locate = document.getElementById("locate");
  const locateState = document.getElementById("locate-state");
  if (!navigator.geolocation) locate.hidden = true;
  locate.addEventListener("click", function () {
    locateState.textContent = t("reg.locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = pos.coords.latitude.toFixed(6);
      lon.value = pos.coords.longitude.toFixed(6);
      guessed = false;
      locateState.textContent = "± " + Math.round(pos.coords.accuracy) + " m";
    }, function () { locateState.textContent = t("reg.locate_failed"); },
    { enableHighAccuracy: true, timeout: 15000 });
  });

  function body() {
    const data = new FormData(form);
    const out = { id: String(data.get("id")).trim(), kind: kind.value, zone: zone.value,
      latitude: Number(lat.value), longitude: Number(lon.value) };
    for (const name of ["model", "address", "notes"]) {
      const value = String(data.get(name) || "").trim();
      if (value) out[name] = value;
    }
    const siaga = ["siaga3", "siaga2", "siaga1"].map((n) => String(data.get(n) || "").trim());
    if (kind.value === "water_level" && siaga.some((v) => v)) out.siaga = siaga.map(Number);
    const qc = String(data.get("qc") || "").trim();
    if (qc) out.qc = parseQc(qc);
    return out;
  }

  // "pm25.high=500; pm25.max_rate_per_s=2" -> {pm25: {high: 500, max_rate_per_s: 2}}; the
  // API checks the metrics and threshold names and says what is wrong with them.
  function parseQc(text) {
    const out = {};
    for (const part of text.split(";").map((p) => p.trim()).filter(Boolean)) {
      const match = /^([a-z0-9_]+)\.([a-z_]+)\s*=\s*(\S+)$/.exec(part);
      const value = match ? Number(match[3]) : NaN;
      if (!match || !Number.isFinite(value)) {
        const problem = new Error(t("reg.qc_syntax") + ": " + part);
        problem.field = "qc";
        throw problem;
      }
      (out[match[1]] = out[match[1]] || {})[match[2]] = value;
    }
    return out;
  }

  function showError(message, field) {
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    problem.textContent = message;
    problem.hidden = !message;
    const input = field && document.getElementById(FIELD_INPUT[field] || "");
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } else if (message) {
      problem.focus();
    }
  }

  function showCreated(created) {
    const mqtt = created.mqtt;
    document.getElementById("c-id").textContent = created.device.id;
    for (const f of ["username", "password", "broker", "topic"]) document.getElementById("c-" + f).textContent = mqtt[f];
    document.getElementById("c-sync").textContent = mqtt.broker_synced ? t("reg.synced") : t("reg.not_synced");
    document.getElementById("c-link").href = "/dashboard/devices/" + encodeURIComponent(created.device.id);
    showError("", null);
    form.hidden = true;
    const section = document.getElementById("created");
    section.hidden = false;
    section.focus();
  }

  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", async function () {
      const text = document.getElementById(button.dataset.copy).textContent;
      const state = document.getElementById("copy-state");
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = t("reg.copied");
        state.textContent = t("reg.copied") + ": " + button.getAttribute("aria-label").split(": ").pop();
      } catch (e) {
        // clipboard refused (no permission, plain http): select the text and say how to copy it
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        button.textContent = t("reg.copy_selected");
        state.textContent = t("reg.copy_manual");
      }
      setTimeout(function () { button.textContent = t("reg.copy"); }, 4000);
    });
  }

  problem.tabIndex = -1;
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const first = form.querySelector(":invalid");
    if (first) {
      showError(label(first.id) + ": " + invalidText(first), null);
      first.setAttribute("aria-invalid", "true");
      first.focus();
      return;
    }
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    submit.textContent = t("reg.sending");
    try {
      showCreated(await P.api("/api/v1/devices", { method: "POST", json: body() }));
    } catch (e) {
      showError(e.message, e.field);
    } finally {
      submit.disabled = false;
      submit.textContent = t("reg.submit");
    }
  });
})();
