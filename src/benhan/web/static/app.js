// benhan pages: CCCD QR by camera (jsQR from npm), note templates, vital-sign charts (Chart.js from npm).
(function () {
  "use strict";

  function startCamera(btn) {
    const video = document.getElementById("camera");
    const canvas = document.getElementById("camera-canvas");
    const target = document.getElementById(btn.dataset.target);
    if (!navigator.mediaDevices || !window.jsQR) { alert(btn.dataset.nocamera || "Camera not available"); return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.hidden = false; video.srcObject = stream; video.play();
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      function tick() {
        if (video.readyState === video.HAVE_ENOUGH_DATA) {
          canvas.width = video.videoWidth; canvas.height = video.videoHeight;
          ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
          const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
          const code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
          if (code && code.data) {
            stream.getTracks().forEach(function (t) { t.stop(); });
            video.hidden = true; target.value = code.data;
            target.form.requestSubmit();
            return;
          }
        }
        requestAnimationFrame(tick);
      }
      requestAnimationFrame(tick);
    }).catch(function () { alert(btn.dataset.nocamera || "Camera not available"); });
  }

  // A keyboard-wedge scanner ends with Enter: submit the QR form as soon as the text arrives.
  document.addEventListener("click", function (e) {
    const btn = e.target.closest("#camera-btn");
    if (btn) { startCamera(btn); }
  });
  document.addEventListener("change", function (e) {
    const sel = e.target.closest("select[data-fill]");
    if (sel && sel.value) {
      const area = document.getElementById(sel.dataset.fill);
      area.value = area.value ? area.value + "\n" + sel.value : sel.value;
      area.focus();
    }
  });

  const charts = [];
  function series(data, key) {
    return (data[key] || []).map(function (p) { return { x: new Date(p[0]).getTime(), y: p[1] }; });
  }
  function label(ms) {
    const d = new Date(ms);
    const pad = function (n) { return String(n).padStart(2, "0"); };
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + " " + pad(d.getDate()) + "/" + pad(d.getMonth() + 1);
  }
  function draw(root) {
    const holder = root.querySelector ? root.querySelector(".vitals-data") : null;
    if (!holder || !window.Chart) { return; }
    const data = JSON.parse(holder.textContent);
    charts.splice(0).forEach(function (c) { c.destroy(); });
    // The x range is the data's own (padded by an hour), so one point does not stretch the axis over months.
    const times = Object.values(data).flat().map(function (p) { return new Date(p[0]).getTime(); });
    const lo = Math.min.apply(null, times.length ? times : [Date.now()]) - 3600e3;
    const hi = Math.max.apply(null, times.length ? times : [Date.now()]) + 3600e3;
    const x = { type: "linear", min: lo, max: hi, ticks: { callback: label, maxTicksLimit: 5 } };
    const defs = {
      "pulse-temp": [[["pulse", "Mạch /min", "#c00000", "y"], ["temperature", "Nhiệt độ °C", "#0b5cad", "y1"]],
        { x: x, y: { position: "left", suggestedMin: 40, suggestedMax: 160 }, y1: { position: "right", suggestedMin: 35, suggestedMax: 41, grid: { drawOnChartArea: false } } }],
      bp: [[["systolic", "HA tâm thu", "#6a1b9a", "y"], ["diastolic", "HA tâm trương", "#ad6ac9", "y"]], { x: x, y: { suggestedMin: 40, suggestedMax: 180 } }],
      resp: [[["respiration", "Nhịp thở /min", "#00695c", "y"], ["spo2", "SpO2 %", "#e65100", "y1"]],
        { x: x, y: { position: "left", suggestedMin: 5, suggestedMax: 40 }, y1: { position: "right", suggestedMin: 80, suggestedMax: 100, grid: { drawOnChartArea: false } } }],
      weight: [[["weight", "Cân nặng kg", "#37474f", "y"]], { x: x }],
    };
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const def = defs[canvas.dataset.chart];
      const empty = def[0].every(function (d) { return !(data[d[0]] || []).length; });
      canvas.closest("figure").hidden = empty;
      if (empty) { return; }
      const datasets = def[0].map(function (d) {
        return { label: d[1], data: series(data, d[0]), borderColor: d[2], backgroundColor: d[2], yAxisID: d[3], tension: 0, pointRadius: 3 };
      });
      charts.push(new window.Chart(canvas, { type: "line", data: { datasets: datasets },
        options: { animation: false, responsive: true, parsing: false, scales: def[1], plugins: { legend: { position: "bottom" } } } }));
    });
  }
  window.addEventListener("load", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (e) { draw(document); });
})();

// CSRF: every plain POST form carries the session's token (HTMX requests send it as a header instead).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var token = document.body.dataset.csrf;
  if (!token || !(form instanceof HTMLFormElement) || (form.method || "").toLowerCase() !== "post") return;
  var field = form.querySelector('input[name="csrf_token"]');
  if (!field) {
    field = document.createElement("input");
    field.type = "hidden";
    field.name = "csrf_token";
    form.appendChild(field);
  }
  field.value = token;
}, true);
