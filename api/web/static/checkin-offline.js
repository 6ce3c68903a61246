/* 签到 at the venue, offline (issue #15): the organiser's device keeps checking members in and out by
 * their own code when the connection is down.
 *
 * - The device key (offline-device.js): made here, registered once while online by the community's
 *   login (POST /community/device), certified by the region.
 * - Offline, the member-scan form is not sent: the scan is signed with the device's key over its
 *   canonical bytes ("timeledger/offline-scan/v1\n" + the record with sorted keys,
 *   ledger/signing/offline.py), kept in IndexedDB and shown as 待同步.
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
  var activityId = panel.getAttribute("data-activity");
  var communityId = panel.getAttribute("data-community");
  var region = panel.getAttribute("data-region");
  var PREFIX = "timeledger/offline-scan/v1\n";
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  var $ = function (id) { return document.getElementById(id); };
  var offsetMs = (Date.parse(panel.getAttribute("data-server-now")) || Date.now()) - Date.now();  // the ledger's clock

  var names = {};  // the members this page names (团体录入, the attendance), to name a queued scan
  Array.prototype.forEach.call(document.querySelectorAll("input[type=checkbox][name=member]"), function (box) {
    names[box.value] = box.parentNode.textContent.trim();
  });
  Array.prototype.forEach.call(document.querySelectorAll("#attendance tr[data-member]"), function (row) {
    names[row.getAttribute("data-member")] = row.cells[0].textContent.trim();
  });

  function memberOf(text) {  // the member's QR (timeledger:member?...&id=…) or the bare id
    var value = (text || "").replace(/\s+/g, "").toLowerCase();
    var found = /[?&]id=([0-9a-f-]{36})/.exec(value);
    if (found) value = found[1];
    return UUID.test(value) ? value : "";
  }

  var page = D.queuePage({
    db: "timeledger-venue-" + communityId, registerUrl: "/community/device", csrf: panel.getAttribute("data-csrf"),
    T: T, rightCell: -1,
    only: function (entry) { return entry.record.activity === activityId; },
    cells: function (entry) {
      return [new Date(entry.record.scanned_at).toLocaleString(document.documentElement.lang || "zh-CN",
                                                                {hour12: false, timeZone: "Asia/Shanghai"}),
              names[entry.record.member] || entry.record.member.slice(0, 8) + "…", T[entry.record.action]];
    },
    url: function (entry) { return "/community/activities/" + entry.record.activity + "/offline-scan"; },
    key: function (entry) { return entry.record.scan_id; },
    rendered: function (offline) {  // offline, the QR cannot rotate: say so where it was
      if ($("qr-offline")) $("qr-offline").hidden = !offline;
      if ($("checkin-qr")) $("checkin-qr").hidden = offline;
    }
  });

  form.addEventListener("submit", function (event) {
    if (!page.isOffline()) return;  // online: the form goes to the ledger as it is
    event.preventDefault();
    var action = event.submitter && event.submitter.value === "out" ? "out" : "in";
    var member = memberOf($("member-code").value);
    if (!member) { $("scan-note").textContent = T.not_member_code; return; }
    var problem = page.problem();
    if (problem) { $("scan-note").textContent = problem; return; }
    var record = {scan_id: D.newId(), region: region, community: communityId, activity: activityId,
                  device_key_id: page.keyId(), member: member, action: action,
                  scanned_at: new Date(Date.now() + offsetMs).toISOString()};
    page.capture(PREFIX, record).then(function () {
      $("scan-note").textContent = T.queued.replace("{action}", T[action]);
      $("member-code").value = "";
      $("member-code").focus();
    });
  });
})();
