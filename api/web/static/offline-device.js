/* A device's own key and queue for offline capture (issue #15), shared by the 爱心超市 counter
 * (counter-offline.js) and the venue's check-in page (checkin-offline.js).
 *
 * - The key: an Ed25519 key pair made here with WebCrypto (the private key is not extractable), kept
 *   in IndexedDB; its public key is registered once, online, by the page's login (the ledger has it
 *   certified: a counter's by its community, a venue device's by the region).
 * - What the device signs: a record's canonical bytes, defined once in ledger/signing/offline.py —
 *   a domain prefix and the record as JSON with sorted keys (flat strings and integers, so RFC 8785
 *   is JSON.stringify with the keys sorted).
 * - The store: one IndexedDB database per device role and owner, with the key ("device") and the
 *   queue ("queue", in the order captured).
 */
(function () {
  "use strict";

  function canonical(value) {
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (value && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (k) {
        return JSON.stringify(k) + ":" + canonical(value[k]);
      }).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  function b64(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text);
  }

  var supported = !!(window.indexedDB && window.crypto && window.crypto.subtle && window.isSecureContext);

  /* open(name) resolves to the device's store: {device, loadDevice(), makeDevice(), putDevice(), all(),
   * put(entry), sign(prefix, record), register(url, csrf, label)} */
  function open(name) {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(name, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore("device", {keyPath: "name"});
        request.result.createObjectStore("queue", {keyPath: "seq", autoIncrement: true});
      };
      request.onsuccess = function () { resolve(wrap(request.result)); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function wrap(db) {
    function store(name, mode, work) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var result = work(tx.objectStore(name));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    }
    var self = {
      device: null,  // {name: "device", keyPair, public_key, key_id, registered, revoked, problem}
      all: function () { return store("queue", "readonly", function (s) { return s.getAll(); }); },
      put: function (entry) { return store("queue", "readwrite", function (s) { return s.put(entry); }); },
      putDevice: function () { return store("device", "readwrite", function (s) { return s.put(self.device); }); },
      loadDevice: function () {
        return store("device", "readonly", function (s) { return s.get("device"); }).then(function (found) {
          self.device = found || null;
        });
      },
      makeDevice: function () {
        return crypto.subtle.generateKey({name: "Ed25519"}, false, ["sign", "verify"]).then(function (pair) {
          return crypto.subtle.exportKey("raw", pair.publicKey).then(function (raw) {
            self.device = {name: "device", keyPair: pair, public_key: b64(raw), key_id: null, registered: false,
                           revoked: false};
            return self.putDevice();
          });
        });
      },
      sign: function (prefix, record) {  // resolves the base64 signature over prefix + canonical(record)
        var bytes = new TextEncoder().encode(prefix + canonical(record));
        return crypto.subtle.sign({name: "Ed25519"}, self.device.keyPair.privateKey, bytes).then(b64);
      },
      register: function (url, csrf, label, failed) {  // online, once: the page's login submits the public key
        return fetch(url, {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
          body: JSON.stringify({public_key: self.device.public_key, label: label})
        }).then(function (response) {
          return response.json().then(function (body) { return {status: response.status, body: body}; });
        }).then(function (answer) {
          if (answer.status === 201 || answer.status === 200) {
            self.device.key_id = answer.body.key_id;
            self.device.registered = true;
            self.device.revoked = !!answer.body.revoked;
            self.device.problem = "";
            return self.putDevice();
          }
          self.device.problem = answer.body.message || failed;
        });
      }
    };
    return self;
  }

  /* post(url, csrf, body, key) resolves {status, body} (body null when the answer is not JSON) */
  function post(url, csrf, body, key) {
    var headers = {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf};
    if (key) headers["Idempotency-Key"] = key;
    return fetch(url, {method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(body)})
      .then(function (response) {
        return response.json().then(function (parsed) { return {status: response.status, body: parsed}; },
                                    function () { return {status: response.status, body: null}; });
      });
  }

  /* whether an answer is about the record (true) or about the connection or the sign-in (false: keep it) */
  function answered(answer) {
    return !(answer.status === 401 || answer.status >= 500 || !answer.body ||
             answer.body.code === "idempotency_key_in_progress" || answer.body.code === "concurrent_update" ||
             answer.body.code === "csrf_refused");
  }

  /* syncQueue(store, csrf, options): the pending entries ({record, signature, status: "pending"}) sent in
   * the order captured, each once (options.key(entry) is the Idempotency-Key: a retry after a lost answer
   * gets the original result). options.url(entry); options.only(entry) picks the entries; on a 200/201 the
   * entry is "synced" (options.accept(entry, body) keeps what the page shows), on a refusal "refused" with
   * its code and message; an answer about the connection or the sign-in (or none) stops the queue there
   * (options.stopped(answer or null)), the entry pending in its place. options.progress() after each.
   * Resolves how many entries were answered. */
  function syncQueue(store, csrf, options) {
    var count = 0;
    return store.all().then(function (queued) {
      var chain = Promise.resolve(true);
      queued.filter(function (e) { return e.status === "pending" && (!options.only || options.only(e)); })
        .sort(function (a, b) { return a.seq - b.seq; })
        .forEach(function (entry) {
          chain = chain.then(function (go) {
            if (!go) return false;
            return post(options.url(entry), csrf, {record: entry.record, signature: entry.signature}, options.key(entry))
              .then(function (answer) {
                if (answer.status === 200 || answer.status === 201) {
                  entry.status = "synced";
                  if (options.accept) options.accept(entry, answer.body);
                } else if (!answered(answer)) {
                  options.stopped(answer);
                  return false;
                } else {
                  entry.status = "refused";
                  entry.code = answer.body.code;
                  entry.message = answer.body.message || answer.body.detail || "";
                }
                count += 1;
                return store.put(entry).then(function () { if (options.progress) options.progress(); return true; });
              }, function () { options.stopped(null); return false; });
          });
        });
      return chain;
    }).then(function () { return count; });
  }

  function newId() {  // a random UUID (v4), for a record's idempotency key
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = [];
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h.push((b[i] + 256).toString(16).slice(1));
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" +
           h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  /* queuePage(options): what the venue's and the member's offline panels share (the counter has its own,
   * with its bound): the device's key (registered once online at options.registerUrl), its status and the
   * network's, the queue table (#offline-queue, its rows from options.cells(entry), the last cell the
   * state), the count, and the sync in order (options.url(entry), options.key(entry)); after a sync that
   * changed anything, the page reloads to show what the ledger recorded. options: {db, registerUrl, csrf,
   * T, only(entry), cells(entry), rightCell, url, key}. Returns {store(), isOffline(), problem(), capture(record,
   * prefix), render()}. */
  function queuePage(options) {
    var T = options.T, $ = function (id) { return document.getElementById(id); };
    var dev = null, syncing = false, unreachable = false, changed = false, usable = supported;

    function isOffline() { return !navigator.onLine || unreachable; }

    function problem() {  // why the device cannot sign now ("" when it can)
      var device = dev && dev.device;
      if (!usable) return T.device_unsupported;
      if (!device || !device.registered || !device.key_id) return T.device_unregistered;
      if (device.revoked) return T.device_revoked;
      return "";
    }

    function status() {
      var device = dev && dev.device;
      if (!usable) return [T.device_unsupported, "error"];
      if (!device) return [T.device_none, ""];
      if (device.revoked) return [T.device_revoked, "error"];
      if (device.registered) return [T.device_registered.replace("{key}", device.key_id.slice(0, 8)), "ok"];
      return [device.problem || T.device_unregistered, device.problem ? "error" : ""];
    }

    function render() {
      var shown = status(), box = $("device-status");
      box.textContent = shown[0];
      box.className = "device-status" + (shown[1] ? " is-" + shown[1] : "");
      $("net-status").textContent = isOffline() ? T.offline : T.online;
      $("net-status").className = "net-status " + (isOffline() ? "is-offline" : "is-online");
      if (options.rendered) options.rendered(isOffline());
      if (!dev) return Promise.resolve();
      return dev.all().then(function (queued) {
        var mine = queued.filter(options.only).sort(function (a, b) { return b.seq - a.seq; });
        var table = $("offline-queue"), body = table.tBodies[0], pending = 0;
        var labels = Array.prototype.map.call(table.tHead.rows[0].cells, function (c) { return c.textContent; });
        body.textContent = "";
        mine.forEach(function (entry) {
          if (entry.status === "pending") pending += 1;
          var row = body.insertRow();
          row.className = "offline-" + entry.status;
          var texts = options.cells(entry).concat([entry.status === "pending" ? T.pending : entry.status === "synced" ?
            T.synced : T.refused.replace("{reason}", entry.message || "")]);
          texts.forEach(function (text, i) {
            var cell = row.insertCell();
            cell.textContent = text;
            cell.setAttribute("data-label", labels[i]);
            if (i === options.rightCell) cell.className = "a-right";
            if (i === texts.length - 1) cell.className = "offline-state";
          });
        });
        $("offline-count").textContent = String(pending);
        $("offline-empty").hidden = mine.length > 0;
        $("sync-now").disabled = !pending || isOffline() || syncing;
        if (!pending) $("sync-note").textContent = "";
      });
    }

    function finish() {
      syncing = false;
      render();
      if (changed && !isOffline()) { changed = false; window.location.reload(); }
    }

    function sync() {  // in order, each once
      if (syncing || !dev || !navigator.onLine) return Promise.resolve();
      syncing = true;
      return syncQueue(dev, options.csrf, {
        only: options.only, url: options.url, key: options.key,
        progress: function () { unreachable = false; changed = true; render(); },
        stopped: function (answer) {
          unreachable = !answer;
          $("sync-note").textContent = answer && (answer.status === 401 || (answer.body && answer.body.code === "csrf_refused")) ?
            T.sign_in_again : T.sync_later;
        }
      }).then(finish, finish);
    }

    function register() {
      var device = dev && dev.device;
      if (!navigator.onLine || !device || device.registered || device.revoked) return Promise.resolve();
      return dev.register(options.registerUrl, options.csrf, T.device_label, T.device_failed).catch(function () { /* later */ });
    }

    function capture(prefix, record) {  // sign and queue; resolves true when queued
      return dev.sign(prefix, record).then(function (signature) {
        return dev.put({record: record, signature: signature, status: "pending"});
      }).then(function () { return render().then(function () { return true; }); });
    }

    if (usable) {
      open(options.db).then(function (opened) {
        dev = opened;
        return dev.loadDevice();
      }).then(function () {
        if (!dev.device) return dev.makeDevice();
      }).then(register).catch(function () { usable = false; }).then(function () { render(); sync(); });
    } else {
      render();
    }
    window.addEventListener("online", function () { register().then(function () { render(); sync(); }); });
    window.addEventListener("offline", render);
    $("sync-now").addEventListener("click", function () { sync(); });
    return {isOffline: isOffline, problem: problem, capture: capture, render: render,
            keyId: function () { return dev && dev.device ? dev.device.key_id : ""; }};
  }

  window.TimeledgerDevice = {supported: supported, canonical: canonical, b64: b64, open: open, post: post,
                             answered: answered, syncQueue: syncQueue, newId: newId, queuePage: queuePage};
})();
