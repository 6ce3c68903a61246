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

  window.TimeledgerDevice = {supported: supported, canonical: canonical, b64: b64, open: open, post: post,
                             answered: answered, syncQueue: syncQueue};
})();
