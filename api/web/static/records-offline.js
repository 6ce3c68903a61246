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
  var memberId = panel.getAttribute("data-member");
  var region = panel.getAttribute("data-region");
  var PREFIX = "timeledger/offline-session/v1\n";
  var TEXTS = ["activity", "content", "place", "organiser", "recipient", "service_date", "start_time", "end_time"];
  var REQUIRED = ["activity", "content", "place", "service_date", "start_time", "end_time"];
  var $ = function (id) { return document.getElementById(id); };
  var offsetMs = (Date.parse(panel.getAttribute("data-server-now")) || Date.now()) - Date.now();  // the ledger's clock

  function hours(minutes) { return Math.floor(minutes / 60) + ":" + ("0" + (minutes % 60)).slice(-2); }

  var page = D.queuePage({
    db: "timeledger-phone-" + memberId, registerUrl: "/me/device", csrf: panel.getAttribute("data-csrf"),
    T: T, rightCell: 2,
    only: function (entry) { return entry.record.member === memberId; },
    cells: function (entry) { return [entry.record.service_date, entry.record.activity, hours(entry.record.minutes)]; },
    url: function () { return "/me/records/offline-sync"; },
    key: function (entry) { return entry.record.session_id; }
  });

  form.addEventListener("submit", function (event) {
    if (!page.isOffline()) return;  // online: the form goes to the ledger as it is
    event.preventDefault();
    var problem = page.problem();
    if (problem) { $("record-note").textContent = problem; return; }
    var value = function (name) { var field = form.elements[name]; return field ? String(field.value || "").trim() : ""; };
    var minutes = parseInt(value("minutes"), 10);
    if (REQUIRED.some(function (name) { return !value(name); }) || !(minutes > 0)) {
      $("record-note").textContent = T.incomplete;
      return;
    }
    var record = {session_id: D.newId(), region: region, member: memberId, device_key_id: page.keyId(),
                  minutes: minutes, post_id: value("post_id"), order_id: value("order_id"),
                  created_at: new Date(Date.now() + offsetMs).toISOString()};
    TEXTS.forEach(function (name) { record[name] = value(name); });
    page.capture(PREFIX, record).then(function () {
      $("record-note").textContent = T.queued;
      ["activity", "content", "place", "organiser", "recipient"].forEach(function (name) {
        if (form.elements[name]) form.elements[name].value = "";
      });
    });
  });
})();
