/* Passkeys (WebAuthn): the browser half of adding a passkey, signing in with one and confirming it is
   you. Each <form data-passkey="create|get"> asks its options URL for a challenge, hands it to the
   browser's authenticator and posts the answer to its verify URL; the server checks everything. The
   forms stay hidden where the browser has no WebAuthn (the page keeps its other ways in). */
(function () {
  "use strict";

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type, id: toBytes(d.id) };
      if (d.transports) { out.transports = d.transports; }
      return out;
    });
  }

  function creationOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    o.excludeCredentials = descriptors(o.excludeCredentials);
    return { publicKey: o };
  }

  function requestOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.allowCredentials = descriptors(o.allowCredentials);
    return { publicKey: o };
  }

  function credentialJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) { response.transports = r.getTransports(); }
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) { response.userHandle = toB64url(r.userHandle); }
    }
    return JSON.stringify({
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: response,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    });
  }

  function post(url, form, extra) {
    var body = new FormData(form);
    Object.keys(extra || {}).forEach(function (k) { body.set(k, extra[k]); });
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": body.get("csrfmiddlewaretoken") || "" }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { throw data; }
        return data;
      });
    });
  }

  function start(form) {
    var status = form.querySelector("[data-passkey-status]");
    var button = form.querySelector("button");
    var kind = form.getAttribute("data-passkey");
    function say(text) { if (status) { status.textContent = text || ""; } }
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button) { button.disabled = true; }
      say(form.getAttribute("data-msg-wait"));
      post(form.getAttribute("data-options-url"), form)
        .then(function (options) {
          return kind === "create"
            ? navigator.credentials.create(creationOptions(options))
            : navigator.credentials.get(requestOptions(options));
        })
        .then(function (cred) {
          if (!cred) { throw {}; }
          return post(form.getAttribute("data-verify-url"), form, { credential: credentialJSON(cred) });
        })
        .then(function (done) {
          say(form.getAttribute("data-msg-done"));
          window.location.assign(done.redirect || window.location.href);
        })
        .catch(function (err) {
          if (button) { button.disabled = false; }
          var text = err && err.error ? err.error : form.getAttribute("data-msg-failed");
          say(text);
          if (err && err.redirect) { window.location.assign(err.redirect); }
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var supported = !!(window.PublicKeyCredential && navigator.credentials);
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      if (supported) { start(form); }
    });
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) { el.hidden = supported; });
    document.querySelectorAll("[data-passkey-hint]").forEach(function (el) { el.hidden = !supported; });
  });
})();
