// Passkeys: the WebAuthn ceremonies of « Clés d'accès » and of the second sign-in step.
// The server's options and the authenticator's answers travel as WebAuthn's JSON forms
// (parseCreationOptionsFromJSON, parseRequestOptionsFromJSON, toJSON).
(function () {
  "use strict";
  var token = document.querySelector("meta[name=csrf-token]");
  var errorBox = document.getElementById("passkey-error");

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token.content},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return {status: response.status, data: data}; });
    });
  }

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  var enrol = document.getElementById("passkey-enrol");
  if (enrol) {
    enrol.addEventListener("submit", function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      post(enrol.dataset.options, {password: enrol.elements.password.value}).then(function (answer) {
        if (answer.status !== 200) { throw new Error(answer.data.error); }
        var options = PublicKeyCredential.parseCreationOptionsFromJSON(answer.data);
        return navigator.credentials.create({publicKey: options}).catch(function () {
          throw new Error(enrol.dataset.cancelled);
        });
      }).then(function (credential) {
        return post(enrol.action, {name: enrol.elements.name.value, credential: credential.toJSON()});
      }).then(function (answer) {
        if (answer.status !== 201) { throw new Error(answer.data.error); }
        window.location.assign(answer.data.redirect);
      }).catch(function (error) { fail(error.message); });
    });
  }

  var use = document.getElementById("passkey-use");
  if (use) {
    var box = document.getElementById("passkey-sign-in");
    use.addEventListener("click", function () {
      errorBox.hidden = true;
      post(box.dataset.options, {}).then(function (answer) {
        if (answer.status !== 200) { throw new Error(answer.data.error); }
        var options = PublicKeyCredential.parseRequestOptionsFromJSON(answer.data);
        return navigator.credentials.get({publicKey: options}).catch(function () {
          throw new Error(box.dataset.cancelled);
        });
      }).then(function (credential) {
        return post(box.dataset.verify, {credential: credential.toJSON()});
      }).then(function (answer) {
        if (answer.status !== 200) { throw new Error(answer.data.error); }
        window.location.assign(answer.data.redirect);
      }).catch(function (error) { fail(error.message); });
    });
  }
})();
