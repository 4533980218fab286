// The user form: show the notes that apply to the chosen authentication type and 2-step box.
(function () {
  "use strict";
  var form = document.querySelector("[data-user-form]");
  if (!form) { return; }
  function update() {
    var checked = form.querySelector('input[name="auth_type"]:checked');
    var type = checked ? checked.value : "password";
    form.querySelectorAll("[data-show-for]").forEach(function (el) {
      el.classList.toggle("d-none", el.getAttribute("data-show-for") !== type);
    });
    form.querySelectorAll("[data-show-if-checked]").forEach(function (el) {
      var box = form.querySelector('input[name="' + el.getAttribute("data-show-if-checked") + '"]');
      el.classList.toggle("d-none", !(box && box.checked));
    });
  }
  form.addEventListener("change", update);
  update();
})();
