// The console's only script (served from this origin: the CSP allows no inline script).
// Copy: puts the token value on the clipboard and says so to screen readers.
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("copy");
  if (!button) { return; }
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = document.getElementById("copy-status");
  field.focus();
  field.select();
  button.addEventListener("click", function () {
    function done(ok) { status.textContent = ok ? "Copied to the clipboard." : "Copy failed: select the value and copy it."; }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () {
        field.select(); done(document.execCommand("copy"));
      });
    } else {
      field.select(); done(document.execCommand("copy"));
    }
  });
});
