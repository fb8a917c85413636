// The widget's framed pages: tell the partner's loader that the page is ready and how tall
// it is, hand it the page's message (interaction_required), put the focus where a person
// expects it after a submission, send each form once (its token is single-use), and run the
// second step's passkey ceremony (WebAuthn's JSON forms of the options and the answer).
// Every message goes to the partner's registered origin only, never "*".
(function () {
  "use strict";
  var node = document.getElementById("widget-donnees");
  if (!node) { return; }
  var data = JSON.parse(node.textContent);
  var framed = window.parent !== window;

  function post(message) {
    if (!framed) { return; }
    message.state = data.state;
    window.parent.postMessage(message, data.origin);
  }

  var lastHeight = 0;
  function resize() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      post({type: "resize", height: height});
    }
  }

  post({type: "ready"});
  resize();
  if (window.ResizeObserver) {
    new ResizeObserver(resize).observe(document.body);
  } else {
    window.addEventListener("resize", resize);
  }
  if (data.message) {
    post(data.message);
  }

  // Never on the first page: the person is reading the partner's page, not typing here yet.
  if (data.focus) {
    var target = document.getElementById(data.focus);
    if (target) { target.focus(); }
  }

  var status = document.getElementById("statut");
  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent")) {
        event.preventDefault();  // a second post of the same token would only fail
        return;
      }
      form.setAttribute("data-sent", "1");
      if (status) { status.textContent = status.getAttribute("data-pending"); }
    });
  });

  var passkey = document.getElementById("passkey-form");
  if (passkey && data.passkey) {
    var policy = document.permissionsPolicy || document.featurePolicy;
    var usable = window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON &&
      !(policy && !policy.allowsFeature("publickey-credentials-get"));
    if (!usable) {
      // This browser, or the partner's page, keeps WebAuthn out of the frame.
      passkey.hidden = true;
      if (data.passkey.fallback) { post(data.passkey.fallback); }
    } else {
      var alertBox = document.getElementById("erreur");
      var token = passkey.elements.transaction.value;
      var fail = function (message) {
        alertBox.textContent = message;
        alertBox.hidden = false;
        alertBox.focus();
      };
      document.getElementById("passkey-use").addEventListener("click", function () {
        if (passkey.getAttribute("data-sent")) { return; }
        alertBox.hidden = true;
        fetch(data.passkey.options, {
          method: "POST", credentials: "omit",
          headers: {"Content-Type": "application/json"},
          body: JSON.stringify({transaction: token})
        }).then(function (response) {
          return response.json().then(function (body) {
            if (response.status !== 200) { throw new Error(body.error); }
            return body;
          });
        }).then(function (options) {
          return navigator.credentials.get({
            publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)
          }).catch(function () { throw new Error(passkey.getAttribute("data-cancelled")); });
        }).then(function (credential) {
          passkey.elements.credential.value = JSON.stringify(credential.toJSON());
          passkey.setAttribute("data-sent", "1");
          if (status) { status.textContent = status.getAttribute("data-pending"); }
          passkey.submit();
        }).catch(function (error) { fail(error.message); });
      });
    }
  }
})();
