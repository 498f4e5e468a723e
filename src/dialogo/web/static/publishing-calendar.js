// Drag a post to another day (month view) or hour (week view) of the publishing calendar.
// Dropping fills the post's own "move" form (the keyboard path) and submits it through htmx.
(function () {
  "use strict";
  var dragged = null;

  function entry(target) { return target.closest ? target.closest("[data-post-id]") : null; }
  function slot(target) { return target.closest ? target.closest("[data-day]") : null; }

  document.addEventListener("dragstart", function (event) {
    var item = entry(event.target);
    if (!item || item.getAttribute("draggable") !== "true") { return; }
    dragged = item;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.getAttribute("data-post-id"));
    item.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  });

  document.addEventListener("dragover", function (event) {
    var cell = slot(event.target);
    if (!dragged || !cell) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    cell.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var cell = slot(event.target);
    if (cell && !cell.contains(event.relatedTarget)) { cell.classList.remove("drop-target"); }
  });

  document.addEventListener("drop", function (event) {
    var cell = slot(event.target);
    if (!dragged || !cell) { return; }
    event.preventDefault();
    var form = document.getElementById("move-" + dragged.getAttribute("data-post-id"));
    if (!form) { return; }
    form.elements.day.value = cell.getAttribute("data-day");
    var hour = cell.getAttribute("data-hour");
    if (hour !== null) {
      var minutes = (form.elements.time.value || "00:00").split(":")[1] || "00";
      form.elements.time.value = ("0" + hour).slice(-2) + ":" + minutes;
    }
    if (cell.getAttribute("data-day") === dragged.getAttribute("data-day") && hour === null) { return; }
    form.requestSubmit();
  });
})();
