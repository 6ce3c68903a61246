/* 签到签退 (issue #15): the community's rotating check-in QR, and the member's camera scan.
 * No inline scripts (the CSP forbids them): this file is loaded by templates/checkin/*.html.
 *
 * Organiser page (#checkin-qr): when the code's 30-second window ends, fetch the new window from
 * data-code-url and reload the QR image (server-rendered SVG, signed by the community's key).
 * Member page (#checkin-form): where the browser has BarcodeDetector and a camera, scan the QR, put the
 * code in the field and submit (the server decides check-in or check-out); otherwise paste the code. */
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  function show(el, on) { if (el) { el.hidden = !on; } }

  /* -- the organiser's rotating code ----------------------------------------------------------- */
  var box = $("checkin-qr");
  if (box) {
    var left = parseInt(box.getAttribute("data-seconds-left"), 10) || 30;
    var countdown = $("checkin-countdown");
    var refresh = function () {
      fetch(box.getAttribute("data-code-url"), {credentials: "same-origin", cache: "no-store"})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          box.setAttribute("data-window", String(data.window));
          $("checkin-qr-image").src = box.getAttribute("data-qr-url") + "?w=" + encodeURIComponent(data.window);
          left = data.seconds_left;
        })
        .catch(function () { left = 5; });  /* offline for a moment: try again shortly */
    };
    window.setInterval(function () {
      left -= 1;
      if (left <= 0) { left = 30; refresh(); }
      if (countdown) { countdown.textContent = String(Math.max(left, 0)); }
    }, 1000);
  }

  /* -- the member's camera scan ------------------------------------------------------------------ */
  var form = $("checkin-form");
  if (!form) { return; }
  var stream = null, scanning = false;
  function setUpCamera() {
    var can = "BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
              window.isSecureContext;
    show($("scan-row"), !!can);
    show($("scan-start"), !!can);
    show($("scan-note"), !can);
  }
  function stopScan() {
    scanning = false;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    show($("camera"), false);
    show($("scan-stop"), false);
    setUpCamera();
  }
  function startScan() {
    var video = $("camera"), detector;
    try { detector = new window.BarcodeDetector({formats: ["qr_code"]}); } catch (e) { return stopScan(); }
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false}).then(function (s) {
      stream = s;
      video.srcObject = s;
      show(video, true);
      show($("scan-stop"), true);
      show($("scan-start"), false);
      scanning = true;
      return video.play().then(tick);
    }).catch(stopScan);
    function tick() {
      if (!scanning) { return; }
      detector.detect(video).then(function (codes) {
        if (codes.length && codes[0].rawValue) {
          $("checkin-code").value = codes[0].rawValue;
          stopScan();
          if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        } else {
          window.setTimeout(tick, 250);
        }
      }).catch(function () { window.setTimeout(tick, 500); });
    }
  }
  setUpCamera();
  if ($("scan-start")) { $("scan-start").addEventListener("click", startScan); }
  if ($("scan-stop")) { $("scan-stop").addEventListener("click", stopScan); }
}());
