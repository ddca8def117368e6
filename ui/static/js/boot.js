// The boot check: a classic script that runs before the app's modules.
// When one of the modules cannot be loaded or one throws while it is
// evaluated, the app never starts and the page would say "Loading…" for
// ever. By the page's load event every module has run or failed, so if
// the app has not marked the page as started (app.js sets data-started on
// <html>), this acts:
//
//   - a module that could not be loaded is most often a passing failure:
//     Chromium fails the requests in flight when the host's network
//     interfaces change (net::ERR_NETWORK_CHANGED: a VPN, Wi-Fi, or a
//     container started on the machine), or the agent was restarting. The
//     page reloads itself, at most twice in a row (counted in
//     sessionStorage), after 0.3 s and then 0.6 s;
//   - otherwise (a script error, or still failing) it says what went wrong
//     and offers a reload.
//
// It is plain DOM code on purpose: it must work when no module does.
(function () {
  'use strict';
  var RETRIES = 'shoal.bootRetries';
  var MAX_RETRIES = 2;
  var why = '';
  var loadFailed = false;
  function retries() {
    try { return Number(sessionStorage.getItem(RETRIES)) || 0; } catch (e) { return MAX_RETRIES; }
  }
  function setRetries(n) {
    try {
      if (n) sessionStorage.setItem(RETRIES, String(n));
      else sessionStorage.removeItem(RETRIES);
    } catch (e) { /* no storage: no automatic reload */ }
  }
  // Load errors of elements do not bubble, but they pass through window
  // on the way down: listen in the capture phase.
  window.addEventListener('error', function (e) {
    var what = '';
    if (e.message) {
      what = 'One of its scripts failed: ' + e.message;
    } else if (e.target && e.target.src) {
      loadFailed = true;
      what = e.target.src.replace(/^[a-z]+:\/\/[^/]+/, '') +
        ', or a module it imports, could not be loaded (the agent may have restarted, or the network changed, while the page loaded)';
    }
    if (!why) why = what;
  }, true);
  window.addEventListener('load', function () {
    if (document.documentElement.hasAttribute('data-started')) {
      setRetries(0);
      return;
    }
    var n = retries();
    if (loadFailed && n < MAX_RETRIES) {
      setRetries(n + 1);
      setTimeout(function () { location.reload(); }, 300 * (n + 1));
      return;
    }
    // A reload by hand starts a fresh count.
    setRetries(0);
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
