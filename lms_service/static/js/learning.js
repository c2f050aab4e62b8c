/* Progressive enhancement for the learner pages; everything works without it.
   - After an answer, move focus to the feedback so screen readers read the verdict and explanation.
   - When the server reports an error in an answer, move focus to the error summary.
   (Filters are applied with their button on purpose: changing a select must not reload the page,
   WCAG 3.2.2.) */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); return; }
  var feedback = document.getElementById("feedback");
  if (feedback && window.location.hash === "#feedback") { feedback.focus(); }
}());
