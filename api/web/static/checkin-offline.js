/* 签到 at the venue, offline (issue #15): the organiser's device keeps checking members in and out by
 * their own code when the connection is down.
 *
 * - The device key (offline-device.js): made here, registered once while online by the community's
 *   login (POST /community/device), certified by the region.
 * - Offline, the member-scan form is not sent: the scan is signed
 *   with the device's key over its canonical bytes ("timeledger/offline-scan/v1\n" + the record with
 *   sorted keys, ledger/signing/offline.py), kept in IndexedDB and shown as 待同步.
 * - Online again, the queue syncs in order (POST /community/activities/{id}/offline-scan), each scan
 *   once (its scan id is the key: a retry after a lost answer gets the original result); the ledger
 *   checks in or out as at the scan's time. Each shows 已同步 or 已拒绝 and why; the page then reloads
 *   to show the attendance.
 */
(function () {
  "use strict";
  var panel = document.getElementById("venue-offline");
  var form = document.getElementById("member-scan-form");
  var D = window.TimeledgerDevice;
  if (!panel || !form || !D) return;
  var T = JSON.parse(document.getElementById("venue-offline-text").textContent);
  var csrf = panel.getAttribute("data-csrf");
  var activityId = panel.getAttribute("data-activity");
  var communityId = panel.getAttribute("data-community");
  var region = panel.getAttribute("data-region");
  var PREFIX = "timeledger/offline-scan/v1\n";
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  var $ = function (id) { return document.getElementById(id); };
  var dev = null, syncing = false, unreachable = false, supported = D.supported, changed = false;
  var offsetMs = (Date.parse(panel.getAttribute("data-server-now")) || Date.now()) - Date.now();  // the ledger's clock

  function ledgerNow() { return new Date(Date.now() + offsetMs).toISOString(); }

  function isOffline() { return !navigator.onLine || unreachable; }

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = [];
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h.push((b[i] + 256).toString(16).slice(1));
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" +
           h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function memberOf(text) {  // the member's QR (timeledger:member?...&id=…) or the bare id
    var value = (text || "").replace(/\s+/g, "").toLowerCase();
    var found = /[?&]id=([0-9a-f-]{36})/.exec(value);
    if (found) value = found[1];
    return UUID.test(value) ? value : "";
  }

  function deviceText() {
    var device = dev && dev.device;
    if (!supported) return [T.device_unsupported, "error"];
    if (!device) return [T.device_none, ""];
    if (device.revoked) return [T.device_revoked, "error"];
    if (device.registered) return [T.device_registered.replace("{key}", device.key_id.slice(0, 8)), "ok"];
    return [device.problem || T.device_unregistered, device.problem ? "error" : ""];
  }

  var names = {};  // the members this page names (团体录入, the attendance), to name a queued scan
  Array.prototype.forEach.call(document.querySelectorAll("input[type=checkbox][name=member]"), function (box) {
    names[box.value] = box.parentNode.textContent.trim();
  });
  Array.prototype.forEach.call(document.querySelectorAll("#attendance tr[data-member]"), function (row) {
    names[row.getAttribute("data-member")] = row.cells[0].textContent.trim();
  });

  function render() {
    var shown = deviceText(), status = $("device-status");
    if ($("qr-offline")) {
      $("qr-offline").hidden = !isOffline();
      if ($("checkin-qr")) $("checkin-qr").hidden = isOffline();
    }
    status.textContent = shown[0];
    status.className = "device-status" + (shown[1] ? " is-" + shown[1] : "");
    $("net-status").textContent = isOffline() ? T.offline : T.online;
    $("net-status").className = "net-status " + (isOffline() ? "is-offline" : "is-online");
    if (!dev) return Promise.resolve();
    return dev.all().then(function (queued) {
      var mine = queued.filter(function (e) { return e.record.activity === activityId; })
                       .sort(function (a, b) { return b.seq - a.seq; });
      var body = $("offline-queue").tBodies[0], pending = 0;
      body.textContent = "";
      mine.forEach(function (entry) {
        if (entry.status === "pending") pending += 1;
        var row = body.insertRow();
        row.className = "offline-" + entry.status;
        row.setAttribute("data-scan", entry.record.scan_id);
        var cells = [new Date(entry.record.scanned_at).toLocaleString(document.documentElement.lang || "zh-CN",
                                                                       {hour12: false, timeZone: "Asia/Shanghai"}),
                     names[entry.record.member] || entry.record.member.slice(0, 8) + "…", T[entry.record.action],
                     entry.status === "pending" ? T.pending : entry.status === "synced" ? T.synced :
                     T.refused.replace("{reason}", entry.message || "")];
        var labels = Array.prototype.map.call($("offline-queue").tHead.rows[0].cells, function (c) { return c.textContent; });
        cells.forEach(function (text, i) {
          var cell = row.insertCell();
          cell.textContent = text;
          cell.setAttribute("data-label", labels[i]);
          if (i === 3) cell.className = "offline-state";
        });
      });
      $("offline-count").textContent = String(pending);
      $("offline-empty").hidden = mine.length > 0;
      $("sync-now").disabled = !pending || isOffline() || syncing;
      if (!pending) $("sync-note").textContent = "";
    });
  }

  function canScan() {
    var device = dev && dev.device;
    if (!supported) return T.device_unsupported;
    if (!device || !device.registered || !device.key_id) return T.device_unregistered;
    if (device.revoked) return T.device_revoked;
    return "";
  }

  function capture(member, action) {
    var problem = canScan();
    if (problem) { $("scan-note").textContent = problem; return Promise.resolve(false); }
    var record = {scan_id: newId(), region: region, community: communityId, activity: activityId,
                  device_key_id: dev.device.key_id, member: member, action: action,
                  scanned_at: ledgerNow()};
    return dev.sign(PREFIX, record).then(function (signature) {
      return dev.put({record: record, signature: signature, status: "pending"});
    }).then(function () {
      $("scan-note").textContent = T.queued.replace("{action}", T[action]);
      $("member-code").value = "";
      $("member-code").focus();
      return render().then(function () { return true; });
    });
  }

  function sync() {  // in order, each once (offline-device.js); then the attendance as recorded
    if (syncing || !dev || !navigator.onLine) return Promise.resolve();
    syncing = true;
    return D.syncQueue(dev, csrf, {
      only: function (entry) { return entry.record.activity === activityId; },
      url: function (entry) { return "/community/activities/" + entry.record.activity + "/offline-scan"; },
      key: function (entry) { return entry.record.scan_id; },
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
    var submitter = event.submitter;
    var action = submitter && submitter.value === "out" ? "out" : "in";
    if (!isOffline()) return;  // online: the form goes to the ledger as it is
    event.preventDefault();
    var member = memberOf($("member-code").value);
    if (!member) { $("scan-note").textContent = T.not_member_code; return; }
    capture(member, action);
  });

  function start() {
    if (!supported) { render(); return; }
    D.open("timeledger-venue-" + communityId).then(function (opened) {
      dev = opened;
      return dev.loadDevice();
    }).then(function () {
      if (!dev.device) return dev.makeDevice();
    }).then(function () {
      var device = dev.device;
      if (navigator.onLine && device && !device.registered && !device.revoked) {
        return dev.register("/community/device", csrf, T.device_label, T.device_failed).catch(function () { /* later */ });
      }
    }).catch(function () { supported = false; }).then(function () { render(); sync(); });
  }

  window.addEventListener("online", function () {
    var device = dev && dev.device;
    var first = device && !device.registered && !device.revoked ?
      dev.register("/community/device", csrf, T.device_label, T.device_failed).catch(function () { /* later */ }) :
      Promise.resolve();
    first.then(function () { render(); sync(); });
  });
  window.addEventListener("offline", render);
  $("sync-now").addEventListener("click", function () { sync(); });
  start();
})();
