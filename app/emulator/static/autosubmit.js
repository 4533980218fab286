// Posts the answer to the application as soon as the page loads (response_mode=form_post).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("form_post");
  if (form) { form.submit(); }
});
