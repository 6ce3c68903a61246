/* 爱心超市收银台, offline (issue #15): the device's own key, the queue of redemptions signed while the
 * connection is down, and their sync when it returns.
 *
 * - The device key: an Ed25519 key pair made here with WebCrypto (the private key is not extractable)
 *   and kept in IndexedDB; its public key is registered once, online, and the counter's community
 *   certifies it (POST /counter/device). Its state (registered, revoked) is shown on the page.
 * - Offline, a redemption is signed with that key over the record's canonical bytes — defined once in
 *   ledger/signing/offline.py: "timeledger/offline-redemption/v1\n" + the record as JSON with sorted
 *   keys — queued in IndexedDB and shown as 待同步. The device refuses it itself when the region allows
 *   no offline redemption (bound 0) or the member's offline total here that day would pass the bound.
 * - Online again, the queue syncs in order (POST /counter/offline/sync), each record once: its
 *   redemption id is the key, so a retry after a lost answer gets the original result. Each record
 *   then shows 已同步 (with what was owed when the balance no longer covered it) or 已拒绝 and why.
 */
(function () {
  "use strict";
  var root = document.getElementById("counter");
  var panel = document.getElementById("offline");
  if (!root || !panel) return;
  var T = JSON.parse(document.getElementById("offline-text").textContent);
  var csrf = root.getAttribute("data-csrf");
  var counterId = root.getAttribute("data-counter");
  var region = root.getAttribute("data-region");
  var PREFIX = "timeledger/offline-redemption/v1\n";
  var CONFIG_KEY = "timeledger.counter.offline." + counterId;
  var $ = function (id) { return document.getElementById(id); };
  var D = window.TimeledgerDevice;  // offline-device.js: the key, the canonical bytes, the store
  var dev = null;  // this counter's device store
  var device = null;  // dev.device: {name: "device", keyPair, key_id, registered: bool, revoked: bool}
  var config = loadConfig();
  var syncing = false;
  var unreachable = false;  // the network is up but the ledger did not answer (a server or line outage)
  var supported = D.supported;

  function hours(minutes) { return window.TimeledgerCounter ? window.TimeledgerCounter.duration(minutes) : String(minutes); }

  function loadConfig() {
    var fallback = {bound_minutes: parseInt(root.getAttribute("data-offline-bound") || "0", 10),
                    device_bound_minutes: parseInt(root.getAttribute("data-offline-device-bound") || "0", 10),
                    bound_version: parseInt(root.getAttribute("data-offline-version") || "0", 10), offset_ms: 0};
    try {
      var stored = JSON.parse(localStorage.getItem(CONFIG_KEY) || "null");
      if (stored && stored.bound_version >= fallback.bound_version) return stored;
    } catch (e) { /* private mode */ }
    return fallback;
  }

  function saveConfig() {
    try { localStorage.setItem(CONFIG_KEY, JSON.stringify(config)); } catch (e) { /* private mode */ }
  }

  function allQueued() { return dev.all(); }
  function putQueued(entry) { return dev.put(entry); }
  function putDevice() { return dev.putDevice(); }

  function chinaDay(iso) {  // the China date of a UTC instant (UTC+8, no summer time)
    return new Date(Date.parse(iso) + 8 * 3600 * 1000).toISOString().slice(0, 10);
  }

  function ledgerNow() { return new Date(Date.now() + (config.offset_ms || 0)).toISOString(); }

  /* -- the device key (offline-device.js) ----------------------------------------------------------- */
  function makeDevice() { return dev.makeDevice().then(function () { device = dev.device; }); }

  function register() {  // online, once: the counter's login submits the public key
    return dev.register("/counter/device", csrf, T.device_label, T.device_failed).then(function () { device = dev.device; });
  }

  function refreshConfig() {  // online: the bound and its version, the ledger's clock, the key's state
    var sent = Date.now();
    var query = device && device.key_id ? "?key=" + encodeURIComponent(device.key_id) : "";
    return fetch("/counter/offline/config" + query, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        unreachable = false;
        if (!body) return;
        var received = Date.now();
        config = {bound_minutes: body.bound_minutes, device_bound_minutes: body.device_bound_minutes || 0,
                  bound_version: body.bound_version,
                  offset_ms: Date.parse(body.server_now) - Math.round((sent + received) / 2)};
        saveConfig();
        if (device && body.device) {
          device.registered = body.device.registered;
          device.revoked = body.device.revoked;
          return putDevice();
        }
      }).catch(function () { unreachable = true; /* keep what we had */ });
  }

  function showDevice() {
    var status = $("device-status");
    var text, kind = "";
    if (!supported) { text = T.device_unsupported; kind = "error"; }
    else if (!device) { text = T.device_none; }
    else if (device.revoked) { text = T.device_revoked; kind = "error"; }
    else if (device.registered) { text = T.device_registered.replace("{key}", device.key_id.slice(0, 8)); kind = "ok"; }
    else { text = device.problem || T.device_unregistered; kind = device.problem ? "error" : ""; }
    status.textContent = text;
    status.className = "device-status" + (kind ? " is-" + kind : "");
    $("device-renew").hidden = !(supported && device && device.revoked && navigator.onLine);
    $("offline-bound").textContent = config.bound_minutes > 0 ?
      T.bound_on.replace("{bound}", hours(config.bound_minutes)).replace("{version}", config.bound_version) +
      (config.device_bound_minutes > 0 ? T.device_bound_on.replace("{bound}", hours(config.device_bound_minutes)) : "") :
      T.bound_off;
    var down = isOffline();
    $("net-status").textContent = down ? T.offline : T.online;
    $("net-status").className = "net-status " + (down ? "is-offline" : "is-online");
  }

  function isOffline() { return !navigator.onLine || unreachable; }

  /* -- capture offline ------------------------------------------------------------------------------ */
  function canCapture() {
    if (!supported) return T.device_unsupported;
    if (!device || !device.registered || !device.key_id) return T.device_unregistered;
    if (device.revoked) return T.device_revoked;
    if (!(config.bound_minutes > 0)) return T.bound_off;
    return "";
  }

  /* basket: {member_id, member_name, redemption_id, lines: [{id, name, price, quantity}]}.
   * Resolves {ok: true, entry} or {ok: false, message}. */
  function capture(basket) {
    var problem = canCapture();
    if (problem) return Promise.resolve({ok: false, message: problem});
    var createdAt = ledgerNow();
    var minutes = basket.lines.reduce(function (sum, line) { return sum + line.price * line.quantity; }, 0);
    return allQueued().then(function (queued) {
      var day = chinaDay(createdAt);
      var used = queued.filter(function (entry) {
        return entry.status !== "refused" && entry.record.member === basket.member_id && chinaDay(entry.record.created_at) === day;
      }).reduce(function (sum, entry) { return sum + entry.record.minutes; }, 0);
      if (used + minutes > config.bound_minutes) {
        return {ok: false, message: T.bound_exceeded.replace("{used}", hours(used)).replace("{bound}", hours(config.bound_minutes))};
      }
      var deviceUsed = queued.filter(function (entry) {  // this device's total that day, every member
        return entry.status !== "refused" && entry.record.device_key_id === device.key_id && chinaDay(entry.record.created_at) === day;
      }).reduce(function (sum, entry) { return sum + entry.record.minutes; }, 0);
      if (config.device_bound_minutes > 0 && deviceUsed + minutes > config.device_bound_minutes) {
        return {ok: false, message: T.device_bound_exceeded.replace("{used}", hours(deviceUsed))
                                     .replace("{bound}", hours(config.device_bound_minutes))};
      }
      var record = {
        redemption_id: basket.redemption_id, region: region, counter: counterId, device_key_id: device.key_id,
        member: basket.member_id, minutes: minutes, created_at: createdAt,
        items: basket.lines.map(function (line) { return {item_id: line.id, quantity: line.quantity, price_minutes: line.price}; })
      };
      return dev.sign(PREFIX, record).then(function (signature) {
        var entry = {record: record, signature: signature, status: "pending", member_name: basket.member_name || "",
                     lines: basket.lines.map(function (line) { return {name: line.name, quantity: line.quantity}; })};
        return putQueued(entry).then(function (seq) {
          entry.seq = seq;
          render();
          if (navigator.onLine) sync();
          return {ok: true, entry: entry};
        });
      });
    }).catch(function () { return {ok: false, message: T.capture_failed}; });
  }

  /* -- sync in order, each once (offline-device.js) ----------------------------------------------------- */
  function sync() {
    if (syncing || !dev || !navigator.onLine) return Promise.resolve();
    syncing = true;
    return D.syncQueue(dev, csrf, {
      url: function () { return "/counter/offline/sync"; },
      key: function (entry) { return entry.record.redemption_id; },
      accept: function (entry, body) {
        entry.owed_minutes = body.owed_added_minutes;
        entry.balance_minutes = body.balance_minutes;
      },
      progress: function () { unreachable = false; render(); },  // the ledger answered
      stopped: function (answer) {
        if (answer) unreachable = false;
        $("sync-note").textContent = answer && (answer.status === 401 || (answer.body && answer.body.code === "csrf_refused")) ?
          T.sign_in_again : T.sync_later;
      }
    }).then(function () { syncing = false; render(); }, function () { syncing = false; render(); });
  }

  /* -- the list: pending, synced, refused (and owed) ---------------------------------------------------- */
  function render() {
    showDevice();
    if (!dev) return;
    allQueued().then(function (queued) {
      var body = $("offline-queue").tBodies[0];
      body.textContent = "";
      queued.sort(function (a, b) { return b.seq - a.seq; });
      var pending = 0;
      queued.forEach(function (entry) {
        if (entry.status === "pending") pending += 1;
        var row = body.insertRow();
        row.className = "offline-" + entry.status + (entry.owed_minutes > 0 ? " offline-owed" : "");
        row.setAttribute("data-redemption", entry.record.redemption_id);
        row.insertCell().textContent = new Date(entry.record.created_at).toLocaleString(
          document.documentElement.lang || "zh-CN", {hour12: false, timeZone: "Asia/Shanghai"});
        var member = entry.record.member;
        row.insertCell().textContent = (entry.member_name ? entry.member_name + " · " : "") + member.slice(0, 8) + "…";
        row.insertCell().textContent = entry.lines.map(function (l) { return l.name + "×" + l.quantity; }).join("、");
        var cost = row.insertCell();
        cost.className = "a-right";
        cost.textContent = hours(entry.record.minutes);
        var state = row.insertCell();
        state.className = "offline-state";
        if (entry.status === "pending") state.textContent = T.pending;
        else if (entry.status === "synced") {
          state.textContent = entry.owed_minutes > 0 ? T.synced_owed.replace("{owed}", hours(entry.owed_minutes)) : T.synced;
        } else state.textContent = T.refused.replace("{reason}", entry.message || "");
      });
      $("offline-count").textContent = String(pending);
      $("offline-empty").hidden = queued.length > 0;
      $("sync-now").disabled = !pending || !navigator.onLine || syncing;
      if (!pending) $("sync-note").textContent = "";
    });
  }

  /* -- start ------------------------------------------------------------------------------------------- */
  function start() {
    if ("serviceWorker" in navigator && window.isSecureContext) {
      navigator.serviceWorker.register("/counter/sw.js", {scope: "/counter"}).catch(function () { /* no app mode */ });
    }
    if (!supported) { showDevice(); return; }
    D.open("timeledger-counter-" + counterId).then(function (opened) {
      dev = opened;
      return dev.loadDevice();
    }).then(function () {
      device = dev.device;
      if (!device) return makeDevice();
    }).then(function () {
      if (!navigator.onLine) return;
      return refreshConfig().then(function () {
        if (device && !device.registered && !device.revoked) return register().catch(function () { /* later */ });
      });
    }).catch(function () {
      supported = false;  // this browser has no Ed25519 in WebCrypto, or no IndexedDB
    }).then(function () {
      render();
      sync();
    });
  }

  window.addEventListener("online", function () {
    refreshConfig().then(function () {
      if (device && !device.registered && !device.revoked) return register().catch(function () { /* later */ });
    }).then(function () { render(); sync(); });
  });
  window.addEventListener("offline", render);
  window.setInterval(function () {  // a server outage ends without an "online" event: ask again now and then
    if (navigator.onLine) refreshConfig().then(function () { render(); if (!unreachable) sync(); });
  }, 20000);
  $("sync-now").addEventListener("click", function () { sync(); });
  $("device-renew").addEventListener("click", function () {  // a revoked key: a new one, certified afresh
    if (!dev || !navigator.onLine) return;
    $("device-renew").disabled = true;
    makeDevice().then(register).then(function () { $("device-renew").disabled = false; render(); },
                                     function () { $("device-renew").disabled = false; render(); });
  });

  window.TimeledgerOffline = {
    isOffline: isOffline,
    unreachable: function () { unreachable = true; render(); },  // a look-up found no ledger
    problem: canCapture,
    capture: capture,
    sync: sync
  };
  start();
})();
