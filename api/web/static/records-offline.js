/* 服务记录 on the member's phone, offline (issue #15): a service record typed with no connection is kept.
 *
 * - The phone's key (offline-device.js): made here, registered once while online by the member's login
 *   (POST /me/device), certified by the member's community.
 * - Offline, the record form is not sent: its fields are signed with the phone's key over their canonical
 *   bytes ("timeledger/offline-session/v1\n" + the record with sorted keys, ledger/signing/offline.py),
 *   kept in IndexedDB and shown as 待同步; the form is cleared for the next one.
 * - Online again, the queue syncs in order (POST /me/records/offline-sync), each record once (its session
 *   id is the key); the ledger checks every rule of a typed record, lateness to the day it was typed.
 *   Each shows 已同步 or 已拒绝 and why; the page then reloads to list the records.
 */
(function () {
  "use strict";
  var panel = document.getElementById("phone-offline");
  var form = document.getElementById("record-form");
  var D = window.TimeledgerDevice;
  if (!panel || !form || !D) return;
  var T = JSON.parse(document.getElementById("phone-offline-text").textContent);
  var csrf = panel.getAttribute("data-csrf");
  var memberId = panel.getAttribute("data-member");
  var region = panel.getAttribute("data-region");
  var PREFIX = "timeledger/offline-session/v1\n";
  var TEXTS = ["activity", "content", "place", "organiser", "recipient", "service_date", "start_time", "end_time"];
  var REQUIRED = ["activity", "content", "place", "service_date", "start_time", "end_time"];
  var $ = function (id) { return document.getElementById(id); };
  var dev = null, syncing = false, unreachable = false, supported = D.supported, changed = false;
  var offsetMs = (Date.parse(panel.getAttribute("data-server-now")) || Date.now()) - Date.now();  // the ledger's clock

  function ledgerNow() { return new Date(Date.now() + offsetMs).toISOString(); }
  function isOffline() { return !navigator.onLine || unreachable; }
  function hours(minutes) { return Math.floor(minutes / 60) + ":" + ("0" + (minutes % 60)).slice(-2); }

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = [];
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h.push((b[i] + 256).toString(16).slice(1));
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" +
           h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function deviceText() {
    var device = dev && dev.device;
    if (!supported) return [T.device_unsupported, "error"];
    if (!device) return [T.device_none, ""];
    if (device.revoked) return [T.device_revoked, "error"];
    if (device.registered) return [T.device_registered.replace("{key}", device.key_id.slice(0, 8)), "ok"];
    return [device.problem || T.device_unregistered, device.problem ? "error" : ""];
  }

  function render() {
    var shown = deviceText(), status = $("device-status");
    status.textContent = shown[0];
    status.className = "device-status" + (shown[1] ? " is-" + shown[1] : "");
    $("net-status").textContent = isOffline() ? T.offline : T.online;
    $("net-status").className = "net-status " + (isOffline() ? "is-offline" : "is-online");
    if (!dev) return Promise.resolve();
    return dev.all().then(function (queued) {
      var mine = queued.filter(function (e) { return e.record.member === memberId; })
                       .sort(function (a, b) { return b.seq - a.seq; });
      var body = $("offline-queue").tBodies[0], pending = 0;
      var labels = Array.prototype.map.call($("offline-queue").tHead.rows[0].cells, function (c) { return c.textContent; });
      body.textContent = "";
      mine.forEach(function (entry) {
        if (entry.status === "pending") pending += 1;
        var row = body.insertRow();
        row.className = "offline-" + entry.status;
        row.setAttribute("data-session", entry.record.session_id);
        [entry.record.service_date, entry.record.activity, hours(entry.record.minutes),
         entry.status === "pending" ? T.pending : entry.status === "synced" ? T.synced :
         T.refused.replace("{reason}", entry.message || "")].forEach(function (text, i) {
          var cell = row.insertCell();
          cell.textContent = text;
          cell.setAttribute("data-label", labels[i]);
          if (i === 2) cell.className = "a-right";
          if (i === 3) cell.className = "offline-state";
        });
      });
      $("offline-count").textContent = String(pending);
      $("offline-empty").hidden = mine.length > 0;
      $("sync-now").disabled = !pending || isOffline() || syncing;
      if (!pending) $("sync-note").textContent = "";
    });
  }

  function capture() {
    var device = dev && dev.device;
    var problem = !supported ? T.device_unsupported : !device || !device.registered || !device.key_id ?
      T.device_unregistered : device.revoked ? T.device_revoked : "";
    if (problem) { $("record-note").textContent = problem; return Promise.resolve(false); }
    var value = function (name) { var field = form.elements[name]; return field ? String(field.value || "").trim() : ""; };
    var minutes = parseInt(value("minutes"), 10);
    if (REQUIRED.some(function (name) { return !value(name); }) || !(minutes > 0)) {
      $("record-note").textContent = T.incomplete;
      return Promise.resolve(false);
    }
    var record = {session_id: newId(), region: region, member: memberId, device_key_id: device.key_id,
                  minutes: minutes, post_id: value("post_id"), order_id: value("order_id"), created_at: ledgerNow()};
    TEXTS.forEach(function (name) { record[name] = value(name); });
    return dev.sign(PREFIX, record).then(function (signature) {
      return dev.put({record: record, signature: signature, status: "pending"});
    }).then(function () {
      $("record-note").textContent = T.queued;
      ["activity", "content", "place", "organiser", "recipient"].forEach(function (name) {
        if (form.elements[name]) form.elements[name].value = "";
      });
      return render().then(function () { return true; });
    });
  }

  function sync() {  // in order, each once (offline-device.js); then the records as the ledger has them
    if (syncing || !dev || !navigator.onLine) return Promise.resolve();
    syncing = true;
    return D.syncQueue(dev, csrf, {
      only: function (entry) { return entry.record.member === memberId; },
      url: function () { return "/me/records/offline-sync"; },
      key: function (entry) { return entry.record.session_id; },
      progress: function () { unreachable = false; changed = true; render(); },
      stopped: function (answer) {
        unreachable = !answer;
        $("sync-note").textContent = answer && (answer.status === 401 || (answer.body && answer.body.code === "csrf_refused")) ?
          T.sign_in_again : T.sync_later;
      }
    }).then(finish, finish);
  }

  function finish() {
    syncing = false;
    render();
    if (changed && !isOffline()) { changed = false; window.location.reload(); }
  }

  form.addEventListener("submit", function (event) {
    if (!isOffline()) return;  // online: the form goes to the ledger as it is
    event.preventDefault();
    capture();
  });

  function register() {
    return dev.register("/me/device", csrf, T.device_label, T.device_failed).catch(function () { /* later */ });
  }

  function start() {
    if (!supported) { render(); return; }
    D.open("timeledger-phone-" + memberId).then(function (opened) {
      dev = opened;
      return dev.loadDevice();
    }).then(function () {
      if (!dev.device) return dev.makeDevice();
    }).then(function () {
      var device = dev.device;
      if (navigator.onLine && device && !device.registered && !device.revoked) return register();
    }).catch(function () { supported = false; }).then(function () { render(); sync(); });
  }

  window.addEventListener("online", function () {
    var device = dev && dev.device;
    (device && !device.registered && !device.revoked ? register() : Promise.resolve())
      .then(function () { render(); sync(); });
  });
  window.addEventListener("offline", render);
  $("sync-now").addEventListener("click", function () { sync(); });
  start();
})();
