/* 爱心超市收银台: member look-up, basket, one charge per basket, receipt.
 *
 * One charge per basket: the redemption id is made here once per basket (at the first "confirm")
 * and sent as both the redemption_id and the Idempotency-Key. It is kept (also in sessionStorage,
 * so a reload keeps it) until the server gives a definite answer; a double click, a retry after a
 * lost answer or a reload re-sends the same id, and the ledger applies it once.
 *
 * 通存通兑 (a member of another region): a QR whose region is a registered peer of this one is taken
 * by the QR alone (the balance is the home region's to confirm), the basket goes to
 * /counter/redeem-anywhere with the same one id per basket, and the receipt names the home region.
 * A QR of a region that is not a peer is refused; offline, a member of another region is refused.
 */
(function () {
  "use strict";
  var root = document.getElementById("counter");
  if (!root) return;
  var T = JSON.parse(document.getElementById("counter-text").textContent);
  var csrf = root.getAttribute("data-csrf");
  var region = root.getAttribute("data-region");
  var PEERS = JSON.parse(document.getElementById("counter-peers").textContent);  // {code: name}
  var offlineBound = parseInt(root.getAttribute("data-offline-bound") || "0", 10);  // minutes per member and day
  var PENDING_KEY = "timeledger.counter.pending";
  var confirmIdentity = root.getAttribute("data-confirm-identity") === "1";  // a region setting
  var lastLookup = null;  // what to look up again after a network failure
  var $ = function (id) { return document.getElementById(id); };

  var state = {
    member: null,          // {id, name, balance_minutes, status, home?, homeName?} (home: 通存通兑)
    basket: [],            // [{id, name, price, quantity}]
    redemptionId: null,    // made once per basket, at the first confirm
    busy: false,
    uncertain: false,      // an attempt whose outcome is unknown: only "retry" may follow
    unreachable: false,    // 通存通兑: home did not answer and nothing was recorded here: retry, or let it go
    offlineAnyway: false   // … and the clerk chose to take it within this region's offline bound
  };

  // locked: an outcome unknown. Home unreachable is not: this region recorded nothing, and a hold home
  // may have made for a lost answer is released when its time runs out (nothing is ever captured).
  function locked() { return state.uncertain && !state.unreachable; }

  function hours(minutes) {  // exact h:mm, like ledger/domain/display.py duration_text (a browser test compares)
    var sign = minutes < 0 ? "\u2212" : "";
    var m = Math.abs(minutes);
    var rest = m % 60;
    return sign + Math.floor(m / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }
  window.TimeledgerCounter = {duration: hours};

  function uuid4() {  // crypto.getRandomValues works on plain http too (randomUUID needs https)
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function show(el, on) { el.hidden = !on; }

  function message(text, kind) {
    var box = $("message");
    box.textContent = text || "";
    box.className = "flash" + (kind ? " flash-" + kind : "");
    show(box, !!text);
  }

  /* -- the member code: a QR text (timeledger:member?…), or the id with or without dashes ---------- */
  function parseCode(text) {
    text = (text || "").trim();
    var name = "", codeRegion = "";
    var match = /^timeledger:member\?(.*)$/i.exec(text);
    if (match) {
      var params = new URLSearchParams(match[1]);
      name = params.get("name") || "";
      codeRegion = params.get("region") || "";
      text = params.get("id") || "";
    }
    var hex = text.replace(/[\s-]/g, "").toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) return null;
    var id = hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
    return {id: id, name: name, region: codeRegion};
  }

  function lookUp(text) {
    var code = parseCode(text);
    show($("member-error"), false);
    show($("member-retry"), false);
    show($("member-offline-go"), false);
    if (!code) { return fail(T.bad_code); }
    $("member-error").textContent = "";
    lastLookup = text;
    if (code.region && region && code.region !== region) {  // 通存通兑: a member of another region
      if (!Object.prototype.hasOwnProperty.call(PEERS, code.region)) {
        return fail(T.not_peer.replace("{region}", code.region));
      }
      if (offline()) { return fail(T.remote_offline); }  // only the home region can say yes
      return setMember({id: code.id, name: code.name, phone: "", identified: null, balance_minutes: null,
                        status: "remote", home: code.region, homeName: PEERS[code.region]});
    }
    if (offline()) { return offlineMember(code); }  // no balance to ask for: the redemption is signed and queued
    return fetch("/counter/balance?member=" + encodeURIComponent(code.id), {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, status: response.status, body: body}; });
    }).then(function (answer) {
      if (answer.status === 401) { window.location.href = "/login?next=/counter"; return; }
      if (!answer.ok) { return fail(answer.body.message || T.bad_code); }
      var body = answer.body;
      setMember({id: code.id, name: body.identified ? body.name : code.name, phone: body.phone_masked || "",
                 identified: !!body.identified, balance_minutes: body.balance_minutes, status: body.status});
    }).catch(function () {  // nothing was charged by a look-up: say it failed and offer it again
      if (offline()) { return offlineMember(code); }
      fail(T.lookup_failed);
      show($("member-retry"), true);
      // the ledger does not answer though the network is up: the clerk may go on offline (signed, synced later)
      show($("member-offline-go"), !!(window.TimeledgerOffline && !window.TimeledgerOffline.problem()));
    });

    function fail(text) {
      var box = $("member-error");
      box.textContent = text;
      show(box, true);
      show($("member-info"), false);
      state.member = null;
      render();
    }
  }

  /* -- offline (counter-offline.js): the member by their code alone, the balance checked when it syncs --- */
  function offline() { return !!(window.TimeledgerOffline && window.TimeledgerOffline.isOffline()); }

  function offlineMember(code) {
    setMember({id: code.id, name: code.name, phone: "", identified: null, balance_minutes: null, status: "offline"});
  }

  function captureOffline() {
    if (!state.redemptionId) state.redemptionId = uuid4();
    state.busy = true;
    message(T.offline_signing, "info");
    render();
    window.TimeledgerOffline.capture({
      member_id: state.member.id, member_name: state.member.name || "", redemption_id: state.redemptionId,
      lines: state.basket.map(function (line) { return {id: line.id, name: line.name, price: line.price, quantity: line.quantity}; })
    }).then(function (answer) {
      state.busy = false;
      if (answer.ok) {
        state.basket = [];
        state.redemptionId = null;
        message(T.offline_queued, "info");
      } else {
        message(answer.message, "error");
      }
      render();
    });
  }

  /* -- search by name or the phone's last four digits (the counter's community only) ---------------- */
  function search(text) {
    var list = $("search-results");
    var box = $("member-error");
    show(box, false);
    list.textContent = "";
    show(list, false);
    text = (text || "").trim();
    if (!text) { return; }
    return fetch("/counter/search?q=" + encodeURIComponent(text), {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, status: response.status, body: body}; });
    }).then(function (answer) {
      if (answer.status === 401) { window.location.href = "/login?next=/counter"; return; }
      if (!answer.ok || !answer.body.items.length) {
        box.textContent = answer.body.message || T.search_failed;
        show(box, true);
        return;
      }
      answer.body.items.forEach(function (item) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.className = "pick-member";
        b.setAttribute("data-member", item.member_id);
        b.textContent = item.name + " · " + (item.phone_masked || T.no_phone);
        b.addEventListener("click", function () {
          $("member-code").value = item.member_id;
          list.textContent = "";
          show(list, false);
          lookUp(item.member_id);
        });
        li.appendChild(b);
        list.appendChild(li);
      });
      show(list, true);
      list.querySelector("button").focus();
    }).catch(function () {
      box.textContent = T.search_failed;
      show(box, true);
    });
  }

  function setMember(member) {
    if (locked()) { message(T.locked, "error"); return; }
    if (state.unreachable) { letGo(); }
    var changed = !state.member || state.member.id !== member.id;
    state.member = member;
    if (changed) { state.redemptionId = null; }
    $("member-name").textContent = member.name || T.no_name;
    $("member-phone").textContent = member.identified ? (member.phone || T.no_phone) : "—";
    show($("member-other"), member.identified === false);
    $("identity-checked").checked = false;
    $("member-id").textContent = member.id;
    $("member-balance").textContent = member.balance_minutes === null ? "—" : hours(member.balance_minutes);
    show($("member-offline"), member.status === "offline");
    $("member-remote").textContent = member.home ? T.remote_member.replace("{region}", member.homeName) : "";
    show($("member-remote"), !!member.home);
    var status = $("member-status");
    if (member.status === "frozen" || member.status === "moved") {
      status.textContent = member.status === "frozen" ? T.frozen : T.moved;
      show(status, true);
    } else {
      show(status, false);
    }
    show($("member-info"), true);
    render();
  }

  /* -- basket -------------------------------------------------------------------------------------- */
  function total() {
    return state.basket.reduce(function (sum, line) { return sum + line.price * line.quantity; }, 0);
  }

  function changeBasket(change) {
    if (state.busy) return;
    if (locked()) { message(T.locked, "error"); return; }
    if (state.unreachable) { letGo(); }
    change();
    state.basket = state.basket.filter(function (line) { return line.quantity > 0; });
    state.redemptionId = null;  // another basket: another id
    message("");
    render();
  }

  function add(id, name, price) {
    changeBasket(function () {
      var line = state.basket.find(function (l) { return l.id === id; });
      if (line) { if (line.quantity < 99) line.quantity += 1; }
      else { state.basket.push({id: id, name: name, price: price, quantity: 1}); }
    });
  }

  function render() {
    var body = $("basket").tBodies[0];
    body.textContent = "";
    if (!state.basket.length) {
      var empty = body.insertRow();
      empty.className = "empty-row";
      var cell = empty.insertCell();
      cell.colSpan = 4;
      cell.className = "empty";
      cell.textContent = document.querySelector("#basket").getAttribute("data-empty") || "—";
    }
    state.basket.forEach(function (line) {
      var row = body.insertRow();
      row.insertCell().textContent = line.name;
      var qty = row.insertCell();
      qty.className = "a-center qty";
      qty.appendChild(button("−", T.less + " " + line.name, function () { line.quantity -= 1; }));
      var count = document.createElement("span");
      count.className = "count";
      count.textContent = line.quantity;
      qty.appendChild(count);
      qty.appendChild(button("+", T.more + " " + line.name, function () { if (line.quantity < 99) line.quantity += 1; }));
      var cost = row.insertCell();
      cost.className = "a-right";
      cost.textContent = hours(line.price * line.quantity);
      var remove = row.insertCell();
      remove.appendChild(button("×", T.remove + " " + line.name, function () { line.quantity = 0; }));
    });
    $("total").textContent = hours(total());
    var usable = state.member && (state.member.status === "open" || state.member.status === "offline" ||
                                  state.member.status === "remote") &&
                 (!confirmIdentity || $("identity-checked").checked);
    $("confirm").disabled = state.busy || state.uncertain || !usable || !state.basket.length;
    show($("retry"), state.uncertain);
    $("retry").disabled = state.busy;
    $("clear").disabled = state.busy || locked();
    Array.prototype.forEach.call(document.querySelectorAll("button.item"), function (b) {
      b.disabled = state.busy || locked();
    });
  }

  function button(text, label, change) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "mini";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.addEventListener("click", function () { changeBasket(change); });
    return b;
  }

  /* -- redeem: one id per basket, the same id on every retry ----------------------------------------- */
  function confirm() {
    if (state.busy || state.uncertain) return;  // a second click while the first is running: ignored
    if (!state.member) { message(T.pick_member, "error"); return; }
    if (confirmIdentity && !$("identity-checked").checked) { message(T.pick_identity, "error"); return; }
    if (!state.basket.length) { message(T.pick_items, "error"); return; }
    if (offline()) {  // the device's queue takes this region's members only
      if (state.member.home) { message(T.remote_offline, "error"); return; }
      captureOffline();
      return;
    }
    if (state.member.status === "offline") {  // the connection is back: ask for the balance first
      lookUp(state.member.id);
      return;
    }
    if (!state.redemptionId) state.redemptionId = uuid4();
    send(basketBody());
  }

  function basketBody() {  // the same body for the first attempt and every retry
    var body = {
      member_id: state.member.id,
      redemption_id: state.redemptionId,
      items: state.basket.map(function (line) { return {item_id: line.id, quantity: line.quantity}; })
    };
    if (state.member.home) body.home_region = state.member.home;  // 通存通兑
    if (state.member.home && state.offlineAnyway) body.offline = true;  // home unreachable: within the bound
    return body;
  }

  function send(body) {
    state.busy = true;
    var pending = {body: body, member: state.member, basket: state.basket};
    try { sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending)); } catch (e) { /* private mode */ }
    message(T.sending, "info");
    render();
    fetch(body.home_region ? "/counter/redeem-anywhere" : "/counter/redeem", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf,
                "Idempotency-Key": body.redemption_id},
      body: JSON.stringify(body)
    }).then(function (response) {
      var replayed = response.headers.get("Idempotent-Replayed") === "true";
      return response.json().then(function (answer) { return {status: response.status, body: answer, replayed: replayed}; },
                                  function () { return {status: response.status, body: null}; });
    }).then(function (answer) {
      state.busy = false;
      if (answer.status === 200 || answer.status === 201) { return done(pending, answer.body, answer.replayed); }
      if (answer.status === 401) {  // signed out: nothing ran; sign in again, the basket and its id
        window.location.href = "/login?next=/counter";  // wait in sessionStorage for the retry
        return;
      }
      if (answer.status === 503 && answer.body && answer.body.code === "home_region_unreachable") {
        return unreachable(answer.body);
      }
      if (!answer.body || answer.status >= 500 || answer.body.code === "idempotency_key_in_progress" ||
          answer.body.code === "concurrent_update") {
        uncertain();
        return;
      }
      refused(answer.body);
    }).catch(function () {
      state.busy = false;
      uncertain();
    });
  }

  function unreachable(body) {  // 通存通兑: nothing recorded here; the retry re-sends the same id
    state.uncertain = true;
    state.unreachable = true;
    try {  // a reload keeps the basket and its id, and lets it go as freely
      var pending = JSON.parse(sessionStorage.getItem(PENDING_KEY));
      if (pending) { pending.unreachable = true; sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending)); }
    } catch (e) { /* private mode */ }
    var canGoOn = offlineBound > 0 && total() <= offlineBound;  // the region lets its counter go on offline
    message((body.message || T.unknown) + " " + T.remote_unreachable +
            (canGoOn ? " " + T.remote_offline_anyway.replace("{bound}", hours(offlineBound)) : ""), "error");
    render();
    show($("offline-anyway"), canGoOn);
    $("retry").focus();
  }

  function offlineAnyway() {  // the same id, now asking this region to take it offline within its bound
    if (state.busy || !state.unreachable) return;
    state.offlineAnyway = true;
    state.uncertain = false;
    send(basketBody());
  }

  function letGo() {  // the clerk gives up on a basket home never answered for
    forget();
    state.uncertain = false;
    state.unreachable = false;
    state.offlineAnyway = false;
    show($("offline-anyway"), false);
    state.redemptionId = null;
    message("");
  }

  function uncertain() {  // the charge may or may not have happened: only the same id may follow
    state.uncertain = true;
    state.unreachable = false;
    message(T.unknown, "error");
    render();
    $("retry").focus();
  }

  function refused(body) {  // a definite refusal: nothing was charged
    forget();
    state.uncertain = false;
    state.unreachable = false;
    state.redemptionId = null;
    if (body.code === "balance_would_go_negative" && !(state.member && state.member.home)) {
      if (typeof body.balance_minutes === "number" && state.member) {
        state.member.balance_minutes = body.balance_minutes;
        $("member-balance").textContent = hours(body.balance_minutes);
      }
      message(T.overdraft.replace("{balance}", hours(state.member ? state.member.balance_minutes : 0))
                        .replace("{total}", hours(total())), "error");
    } else {
      message(body.message || body.detail || T.unknown, "error");
    }
    render();
  }

  function done(pending, result, replayed) {
    forget();
    state.uncertain = false;
    state.unreachable = false;
    message("");
    var member = pending.member;
    $("r-time").textContent = new Date().toLocaleString(document.documentElement.lang || "zh-CN", {hour12: false, timeZone: "Asia/Shanghai"});
    var code = member.id.slice(0, 8) + "…" + member.id.slice(-4);
    $("r-member").textContent = member.name ? member.name + " · " + code : code;
    $("r-id").textContent = result.redemption_id;
    var lines = $("r-lines");
    lines.textContent = "";
    result.lines.forEach(function (line) {
      var row = lines.insertRow();
      row.insertCell().textContent = line.name;
      var q = row.insertCell(); q.className = "a-right"; q.textContent = "×" + line.quantity;
      var c = row.insertCell(); c.className = "a-right"; c.textContent = hours(line.price_minutes * line.quantity);
    });
    $("r-total").textContent = hours(result.minutes) + " " + T.hours;
    var home = result.home_region ? result.home_name || result.home_region : "";  // 通存通兑: the home region's balance
    var takenOffline = result.status === "offline";  // home unreachable: its answer comes when it is presented
    $("r-balance").textContent = takenOffline ? T.remote_offline_balance : result.balance_hours + " " + T.hours;
    $("r-home").textContent = home;
    show($("r-remote"), !!home);
    $("r-balance-label").textContent = home ? T.remote_balance.replace("{region}", home) : localBalanceLabel;
    $("r-foot").textContent = takenOffline ? T.remote_offline_foot.replace("{region}", home)
      : home ? T.remote_foot.replace("{region}", home) : localFoot;
    state.offlineAnyway = false;
    show($("offline-anyway"), false);
    // a retry of a basket already charged: the stored answer (or the account's own refusal to apply
    // the same redemption id twice) comes back, and the receipt says nothing more was charged
    show($("r-replayed"), replayed || result.applied === false);
    if (state.member && typeof result.balance_minutes === "number") {
      state.member.balance_minutes = result.balance_minutes;
      $("member-balance").textContent = hours(result.balance_minutes);
    }
    state.basket = [];
    state.redemptionId = null;
    render();
    var receipt = $("receipt");
    show(receipt, true);
    document.body.classList.add("has-receipt");
    receipt.focus();
  }

  function forget() {
    try { sessionStorage.removeItem(PENDING_KEY); } catch (e) { /* private mode */ }
  }

  function restore() {  // a reload while an attempt was unanswered: keep its id, offer the retry
    var raw = null;
    try { raw = sessionStorage.getItem(PENDING_KEY); } catch (e) { return; }
    if (!raw) return;
    try {
      var pending = JSON.parse(raw);
      state.member = pending.member;
      state.basket = pending.basket;
      state.redemptionId = pending.body.redemption_id;
      setMember(pending.member);
      state.uncertain = true;
      state.unreachable = !!pending.unreachable;
      message(T.pending_restored, "error");
      render();
    } catch (e) { forget(); }
  }

  function retry() {
    if (state.busy || !state.uncertain || !state.redemptionId) return;
    state.uncertain = false;
    state.unreachable = false;
    show($("offline-anyway"), false);
    send(basketBody());
  }

  /* -- camera scanning where the browser has BarcodeDetector ---------------------------------------- */
  var stream = null, scanning = false;
  function setUpCamera() {
    var can = "BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
              window.isSecureContext;
    show($("scan-row"), !!can);
    show($("scan-start"), !!can);
    show($("scan-note"), !can);
  }

  function startScan() {
    var video = $("camera");
    var detector;
    try { detector = new window.BarcodeDetector({formats: ["qr_code"]}); }
    catch (e) { return cameraFailed(); }
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false}).then(function (s) {
      stream = s;
      video.srcObject = s;
      show(video, true);
      show($("scan-stop"), true);
      show($("scan-start"), false);
      scanning = true;
      return video.play().then(function () { tick(); });
    }).catch(cameraFailed);

    function tick() {
      if (!scanning) return;
      detector.detect(video).then(function (codes) {
        if (codes.length && codes[0].rawValue) {
          $("member-code").value = codes[0].rawValue;
          stopScan();
          lookUp(codes[0].rawValue);
        } else {
          window.setTimeout(tick, 250);
        }
      }).catch(function () { window.setTimeout(tick, 500); });
    }
  }

  function stopScan() {
    scanning = false;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    show($("camera"), false);
    show($("scan-stop"), false);
    setUpCamera();
  }

  function cameraFailed() {
    stopScan();
    var box = $("member-error");
    box.textContent = T.camera_failed;
    show(box, true);
  }

  /* -- wiring ---------------------------------------------------------------------------------------- */
  var localBalanceLabel = $("r-balance-label").textContent;
  var localFoot = $("r-foot").textContent;
  $("basket").setAttribute("data-empty", $("basket").querySelector(".empty") ?
                           $("basket").querySelector(".empty").textContent : "—");
  $("member-form").addEventListener("submit", function (event) {
    event.preventDefault();
    lookUp($("member-code").value);
  });
  Array.prototype.forEach.call(document.querySelectorAll("button.item"), function (b) {
    b.addEventListener("click", function () {
      add(b.getAttribute("data-item"), b.getAttribute("data-name"), parseInt(b.getAttribute("data-price"), 10));
    });
  });
  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    search($("member-search").value);
  });
  $("member-retry").addEventListener("click", function () { if (lastLookup) lookUp(lastLookup); });
  $("member-offline-go").addEventListener("click", function () {
    var code = parseCode(lastLookup);
    if (!code || !window.TimeledgerOffline) return;
    window.TimeledgerOffline.unreachable();  // from now until the ledger answers again: offline
    show($("member-error"), false);
    show($("member-retry"), false);
    show($("member-offline-go"), false);
    offlineMember(code);
  });
  $("identity-checked").addEventListener("change", render);
  $("confirm").addEventListener("click", confirm);
  $("retry").addEventListener("click", retry);
  $("offline-anyway").addEventListener("click", offlineAnyway);
  $("clear").addEventListener("click", function () { changeBasket(function () { state.basket = []; }); });
  $("next-customer").addEventListener("click", function () {
    show($("receipt"), false);
    document.body.classList.remove("has-receipt");
    state.member = null;
    show($("member-info"), false);
    $("member-code").value = "";
    $("member-search").value = "";
    render();
    $("member-code").focus();
  });
  $("scan-start").addEventListener("click", startScan);
  $("scan-stop").addEventListener("click", stopScan);
  setUpCamera();
  restore();
  render();
})();
