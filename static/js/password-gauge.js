// Live strength gauge: asks the server, which applies the same policy as on submit.
(function () {
  "use strict";
  var labels = {weak: "faible", medium: "moyen", strong: "fort"};
  document.querySelectorAll("input[data-gauge]").forEach(function (input) {
    var gauge = document.getElementById(input.dataset.gauge);
    if (!gauge) { return; }
    var bar = gauge.querySelector(".gauge-bar");
    var text = gauge.querySelector(".gauge-text");
    var rules = gauge.querySelector(".gauge-rules");
    var token = document.querySelector("meta[name=csrf-token]").content;
    var timer = null;
    gauge.hidden = false;
    function show(result) {
      bar.className = "gauge-bar gauge-" + result.level;
      gauge.dataset.level = result.level;
      text.textContent = gauge.dataset.label + " " + (gauge.dataset[result.level] || labels[result.level]);
      rules.innerHTML = "";
      result.rules.forEach(function (rule) {
        var item = document.createElement("li");
        item.className = rule.ok ? "ok" : "ko";
        item.textContent = (rule.ok ? "✓ " : "✗ ") + rule.text;
        rules.appendChild(item);
      });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch(gauge.dataset.url, {
          method: "POST",
          headers: {"Content-Type": "application/json", "X-CSRFToken": token},
          body: JSON.stringify({password: input.value}),
          credentials: "same-origin"
        }).then(function (response) { return response.json(); }).then(show);
      }, 150);
    });
  });
}());
