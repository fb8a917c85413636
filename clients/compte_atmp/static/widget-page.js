// Mounts the Net-entreprises widget with what the back end prepared (data-* attributes), and
// hands the authorization response to the back end, which redeems the code.
(function () {
  "use strict";
  const script = document.currentScript;
  const options = script.dataset;
  NetEntreprises.widget.mount(document.getElementById("connexion-ne"), {
    clientId: options.clientId,
    redirectUri: options.redirectUri,
    scope: "openid profile siret habilitations",
    state: options.state,
    nonce: options.nonce,
    codeChallenge: options.codeChallenge,
    onSuccess(response) {
      fetch("/widget/retour", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(response),
      }).then(function (answer) {
        if (answer.ok) { window.location.reload(); }
        else { document.getElementById("erreur").textContent = "La connexion a échoué."; }
      });
    },
    onError(error) {
      document.getElementById("erreur").textContent =
        error.error_description || error.error;
    },
  });
}());
