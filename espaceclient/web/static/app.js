// Progressive enhancement only: every page works without this script.
// 1. Previews of the photos chosen in a file input (data-preview="id of the container").
// 2. A request page's thread refreshed every 20 s (data-refresh="/demandes/{id}/fil"), while the tab is visible.
(function () {
  "use strict";
  document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
    var box = document.getElementById(input.getAttribute("data-preview"));
    if (!box) { return; }
    input.addEventListener("change", function () {
      box.textContent = "";
      Array.prototype.forEach.call(input.files || [], function (f) {
        if (f.type.indexOf("image/") === 0 && f.type !== "image/heic") {
          var img = document.createElement("img");
          img.alt = f.name;
          img.src = URL.createObjectURL(f);
          img.onload = function () { URL.revokeObjectURL(img.src); };
          box.appendChild(img);
        } else {
          var span = document.createElement("span");
          span.textContent = f.name;
          box.appendChild(span);
        }
      });
    });
  });
  var thread = document.querySelector("[data-refresh]");
  if (thread && window.fetch) {
    setInterval(function () {
      if (document.visibilityState !== "visible") { return; }
      fetch(thread.getAttribute("data-refresh"), { credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (html) {
        if (html !== null && html !== thread.innerHTML) { thread.innerHTML = html; }
      }).catch(function () {});
    }, 20000);
  }
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
