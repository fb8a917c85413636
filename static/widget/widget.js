/*! Net-entreprises : widget de connexion, version 1 (/widget/v1/widget.js).
 *
 *   var widget = NetEntreprises.widget.mount(element, {
 *     clientId, redirectUri, scope, state, nonce, codeChallenge,   // required
 *     onSuccess(response) {},   // {code, state, iss}: send it to your back end
 *     onError(error) {},        // {error, error_description, state, iss}
 *     theme: {primaryColor, logoUrl, title},   // only the keys your registration allows
 *     prompt, loginHint, acrValues, maxAge, lang, timeout   // optional
 *   });
 *   widget.unmount();
 *
 * The frame is the IdP's page: the password never reaches the partner's page. Messages are
 * accepted only from the IdP's origin, from this widget's own frame (or its popup), of a
 * known type, carrying the expected state.
 */
(function () {
  "use strict";

  var root = window.NetEntreprises = window.NetEntreprises || {};
  if (root.widget) { return; }

  var script = document.currentScript || (function () {
    var scripts = document.querySelectorAll("script[src]");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\/v1\/widget\.js(\?|#|$)/.test(scripts[i].src)) { return scripts[i]; }
    }
    return null;
  })();
  var IDP = new URL(script ? script.src : "/", window.location.href).origin;

  var TYPES = {ready: true, resize: true, authorization_response: true,
               interaction_required: true};
  var REQUIRED = ["clientId", "redirectUri", "scope", "state", "nonce", "codeChallenge"];
  // Options passed through to the authorization request, by their OAuth names.
  var PASSED = {prompt: "prompt", loginHint: "login_hint", acrValues: "acr_values",
                maxAge: "max_age", lang: "lang"};
  var THEME_KEYS = ["primaryColor", "logoUrl", "title"];
  var RESPONSE_FIELDS = ["code", "state", "iss", "error", "error_description", "error_uri"];
  // The full-page fallback: the state sent, to recognise the answer when the page comes back.
  var PENDING = "netentreprises-widget:state";
  var TEXTS = {
    fr: {
      title: "Connexion avec Net-entreprises",
      unavailable: "Le formulaire de connexion Net-entreprises ne peut pas s'afficher dans " +
                   "cette page : poursuivez dans une nouvelle fenêtre.",
      action: "Continuer dans une nouvelle fenêtre",
      opened: "La connexion se poursuit dans une nouvelle fenêtre.",
      done: "Connexion réussie."
    },
    en: {
      title: "Sign in with Net-entreprises",
      unavailable: "The Net-entreprises sign-in form cannot be shown in this page: " +
                   "continue in a new window.",
      action: "Continue in a new window",
      opened: "Signing in continues in a new window.",
      done: "Signed in."
    }
  };

  function authorizationUrl(path, options, mode, extra) {
    var params = new URLSearchParams();
    params.set("response_type", "code");
    params.set("client_id", options.clientId);
    params.set("redirect_uri", options.redirectUri);
    params.set("scope", options.scope);
    params.set("state", options.state);
    params.set("nonce", options.nonce);
    params.set("code_challenge", options.codeChallenge);
    params.set("code_challenge_method", "S256");
    params.set("response_mode", mode);
    Object.keys(PASSED).forEach(function (name) {
      var value = options[name];
      if (value !== undefined && value !== null && value !== "") {
        params.set(PASSED[name], String(value));
      }
    });
    Object.keys(extra || {}).forEach(function (name) { params.set(name, extra[name]); });
    return IDP + path + "?" + params.toString();
  }

  function themeOption(theme) {
    if (!theme || typeof theme !== "object") { return {}; }
    var picked = {};
    var any = false;
    THEME_KEYS.forEach(function (key) {
      if (typeof theme[key] === "string") { picked[key] = theme[key]; any = true; }
    });
    return any ? {theme: JSON.stringify(picked)} : {};
  }

  function copyResponse(response) {
    var copy = {};
    RESPONSE_FIELDS.forEach(function (name) {
      if (typeof response[name] === "string") { copy[name] = response[name]; }
    });
    return copy;
  }

  // The answer of the full-page fallback, in this page's address: taken (and removed from
  // the address) only when its state is the one this tab sent.
  function returnedResponse() {
    var sent = null;
    try { sent = window.sessionStorage.getItem(PENDING); } catch (e) { return null; }
    var params = new URLSearchParams(window.location.search);
    if (!sent || params.get("state") !== sent || !(params.has("code") || params.has("error"))) {
      return null;
    }
    try { window.sessionStorage.removeItem(PENDING); } catch (e) { /* nothing to forget */ }
    var response = {};
    RESPONSE_FIELDS.forEach(function (name) {
      if (params.has(name)) { response[name] = params.get(name); params.delete(name); }
    });
    var query = params.toString();
    window.history.replaceState(window.history.state, "",
                                window.location.pathname + (query ? "?" + query : "") +
                                window.location.hash);
    return response;
  }

  function mount(element, options) {
    if (!element || element.nodeType !== 1) {
      throw new TypeError("NetEntreprises.widget.mount : élément manquant");
    }
    options = options || {};
    REQUIRED.forEach(function (name) {
      if (typeof options[name] !== "string" || !options[name]) {
        throw new TypeError("NetEntreprises.widget.mount : option « " + name + " » manquante");
      }
    });
    var texts = TEXTS[options.lang === "en" ? "en" : "fr"];
    var state = options.state;
    var iframe = null;
    var panel = null;
    var popup = null;
    var status = document.createElement("p");
    var done = false;
    var timer = null;
    var watcher = null;

    status.className = "ne-widget-status";
    status.setAttribute("role", "status");

    function say(text) {
      status.textContent = text;
      if (!status.parentNode) { element.appendChild(status); }
    }

    function removeFrame() {
      if (iframe && iframe.parentNode) { iframe.parentNode.removeChild(iframe); }
      iframe = null;
      clearTimeout(timer);
    }

    function cleanup() {
      window.removeEventListener("message", onMessage);
      removeFrame();
      if (panel && panel.parentNode) { panel.parentNode.removeChild(panel); }
      panel = null;
      clearInterval(watcher);
    }

    function finish(response) {
      if (done) { return; }
      done = true;
      cleanup();
      popup = null;
      if (!response.error) { say(texts.done); }
      var callback = response.error ? options.onError : options.onSuccess;
      if (typeof callback === "function") { callback(response); }
    }

    // The frame cannot do what is needed (or never showed up): a button opens the same
    // request top-level in a popup, synchronously on the click; a blocked popup leads to a
    // full-page redirect (response_mode=query) back to redirectUri.
    function offerWindow(message, action) {
      removeFrame();
      if (panel) { return; }
      panel = document.createElement("div");
      panel.className = "ne-widget-panel";
      var text = document.createElement("p");
      text.textContent = message;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "ne-widget-button";
      button.textContent = action;
      button.addEventListener("click", function () {
        if (done) { return; }
        if (popup && !popup.closed) { popup.focus(); return; }
        popup = window.open(authorizationUrl("/oidc/authorize", options, "web_message",
                                             {display: "popup"}),
                            "netentreprises-connexion", "popup=yes,width=520,height=720");
        if (!popup) {
          try { window.sessionStorage.setItem(PENDING, state); } catch (e) { /* still go */ }
          window.location.assign(authorizationUrl("/oidc/authorize", options, "query"));
          return;
        }
        say(texts.opened);
        clearInterval(watcher);
        watcher = setInterval(function () {
          if (popup && popup.closed) { clearInterval(watcher); popup = null; say(""); }
        }, 500);
      });
      panel.appendChild(text);
      panel.appendChild(button);
      element.appendChild(panel);
      button.focus();
    }

    function onMessage(event) {
      if (done || event.origin !== IDP) { return; }
      var fromFrame = iframe !== null && event.source === iframe.contentWindow;
      var fromPopup = popup !== null && event.source === popup;
      if (!fromFrame && !fromPopup) { return; }
      var data = event.data;
      if (!data || typeof data !== "object" || typeof data.type !== "string" ||
          !Object.prototype.hasOwnProperty.call(TYPES, data.type)) { return; }
      if (data.type === "authorization_response") {
        var response = data.response;
        if (!response || typeof response !== "object" || response.state !== state) { return; }
        finish(copyResponse(response));
        return;
      }
      if (!fromFrame || data.state !== state) { return; }
      if (data.type === "ready") {
        clearTimeout(timer);
      } else if (data.type === "resize") {
        var height = Number(data.height);
        if (isFinite(height) && height > 0) {
          iframe.style.height = Math.min(Math.ceil(height), 4000) + "px";
        }
      } else if (data.type === "interaction_required") {
        offerWindow(typeof data.message === "string" ? data.message : texts.unavailable,
                    typeof data.action === "string" ? data.action : texts.action);
      }
    }

    var returned = returnedResponse();
    if (returned) {
      setTimeout(function () { finish(returned); }, 0);
    } else {
      window.addEventListener("message", onMessage);
      iframe = document.createElement("iframe");
      iframe.src = authorizationUrl("/widget/v1/connexion", options, "web_message",
                                    themeOption(options.theme));
      iframe.title = texts.title;
      iframe.className = "ne-widget-frame";
      // The frame needs its scripts, its forms, its own origin and new windows for
      // « Mot de passe oublié ? » and « Vous inscrire »; it may not navigate this page.
      iframe.setAttribute("sandbox", "allow-scripts allow-forms allow-same-origin " +
                                     "allow-popups allow-popups-to-escape-sandbox");
      // The second step's passkey: WebAuthn in a frame of another origin needs the page
      // to delegate it (Permissions Policy), to the IdP's origin only (the frame's src).
      iframe.setAttribute("allow", "publickey-credentials-get");
      iframe.style.display = "block";
      iframe.style.width = "100%";
      iframe.style.height = "30rem";
      iframe.style.border = "0";
      element.appendChild(iframe);
      var wait = Number(options.timeout) > 0 ? Number(options.timeout) : 10000;
      timer = setTimeout(function () {
        if (!done) { offerWindow(texts.unavailable, texts.action); }
      }, wait);
    }

    return {
      unmount: function () {
        done = true;
        cleanup();
        if (popup && !popup.closed) { popup.close(); }
        popup = null;
        if (status.parentNode) { status.parentNode.removeChild(status); }
      }
    };
  }

  root.widget = {mount: mount, version: "1"};
})();
