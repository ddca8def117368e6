// The boot check: a classic script that runs before the app's modules.
// When one of the modules cannot be loaded (the agent restarted while the
// page loaded, a proxy dropped a request) or one throws while it is
// evaluated, the app never starts and the page would say "Loading…"
// forever. By the page's load event every module has run or failed, so
// if the app has not marked the page as started (app.js sets
// data-started on <html>), this says what went wrong and offers a reload.
// It is plain DOM code on purpose: it must work when no module does.
(function () {
  'use strict';
  var why = '';
  // Load errors of elements do not bubble, but they pass through window
  // on the way down: listen in the capture phase.
  window.addEventListener('error', function (e) {
    if (why) return;
    if (e.message) {
      why = 'One of its scripts failed: ' + e.message;
    } else if (e.target && e.target.src) {
      why = e.target.src.replace(/^[a-z]+:\/\/[^/]+/, '') +
        ', or a module it imports, could not be loaded; the agent may have restarted while the page loaded';
    }
  }, true);
  window.addEventListener('load', function () {
    if (document.documentElement.hasAttribute('data-started')) return;
    var main = document.getElementById('main');
    if (!main) return;
    var h1 = document.createElement('h1');
    h1.textContent = 'The UI did not start';
    var p = document.createElement('p');
    p.className = 'error';
    p.setAttribute('role', 'alert');
    p.textContent = (why || 'Its scripts did not run') + '. The HTTP API is at /v1/.';
    var button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Reload';
    button.addEventListener('click', function () { location.reload(); });
    main.replaceChildren(h1, p, button);
    document.title = 'The UI did not start · Shoal';
  });
})();
