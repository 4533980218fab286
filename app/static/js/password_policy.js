// Password Policy: add and remove Restricted domains in place. Without this script the same
// buttons post the form and the server re-renders it (nothing is saved until Save).
(function () {
  "use strict";
  var form = document.getElementById("policy-form");
  var list = form && form.querySelector("[data-domain-list]");
  var template = document.getElementById("domain-row-template");
  if (!list || !template || !("content" in template)) { return; }

  // Field names only need to be unique: the server reads domains-N in order, gaps allowed.
  function nextIndex() {
    var max = -1;
    list.querySelectorAll("input[name^='domains-']").forEach(function (input) {
      var n = parseInt(input.name.slice("domains-".length), 10);
      if (!isNaN(n) && n > max) { max = n; }
    });
    return max + 1;
  }

  function renumberLabels() {
    list.querySelectorAll("[data-domain-row] input").forEach(function (input, i) {
      input.setAttribute("aria-label", "Email domain " + (i + 1));
    });
  }

  form.querySelector("[data-add-domain]").addEventListener("click", function (event) {
    event.preventDefault();
    var row = template.content.firstElementChild.cloneNode(true);
    var input = row.querySelector("input");
    input.name = input.id = "domains-" + nextIndex();
    list.appendChild(row);
    renumberLabels();
    input.focus();
  });

  list.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-remove-domain]") : null;
    if (!button) { return; }
    event.preventDefault();
    button.closest("[data-domain-row]").remove();
    renumberLabels();
    var add = form.querySelector("[data-add-domain]");
    if (add) { add.focus(); }
  });
})();
