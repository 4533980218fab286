// Login page: home-realm hint. Typing an email of an organization that signs in with Microsoft
// shows the hint, moves its button first and passes the email as login_hint.
(function () {
  "use strict";
  var login = document.getElementById("login");
  if (!login) { return; }
  var hint = document.getElementById("realm-hint");
  var timer = null;
  function forms() { return Array.prototype.slice.call(document.querySelectorAll("form.ms-signin")); }
  function check() {
    var email = login.value.trim();
    forms().forEach(function (f) { f.querySelector("input[name=login_hint]").value = email.indexOf("@") > 0 ? email : ""; });
    if (email.indexOf("@") < 1) { hint.classList.add("d-none"); return; }
    fetch(login.getAttribute("data-realm-url") + "?email=" + encodeURIComponent(email), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (data) {
        var match = forms().filter(function (f) { return String(data.integration_id) === f.getAttribute("data-integration-id"); })[0];
        hint.classList.toggle("d-none", !match);
        if (match) {
          var button = match.querySelector("button");
          button.classList.remove("btn-outline-dark");
          button.classList.add("btn-dark");
          var card = document.getElementById("password-form");
          card.parentNode.insertBefore(match, card);
        }
      })
      .catch(function () { hint.classList.add("d-none"); });
  }
  login.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 300); });
  check();
})();
