/*! feedservice embed widget: the newest headlines of a feed, on any page.
 *
 * <script src="BASE/embed.js" data-feed="all" data-limit="5" data-target="news" async></script>
 *
 * data-feed   all, ministries/<slug> or topics/<slug>          (default: all)
 * data-limit  1 to 20                                           (default: 5)
 * data-target id of the element to fill; its content is replaced (default: a new element after the script)
 *
 * Fetches BASE/feeds/<feed>.json (JSON Feed 1.1, CORS) and renders a list of links with feedservice-*
 * classes for the host page to style. Feed text is inserted as text, never parsed as HTML; no eval, no
 * inline styles, so it runs under "script-src BASE; connect-src BASE; style-src 'self'". When anything
 * fails (bad attributes, feed unreachable, timeout) it leaves a plain link to the portal instead.
 */
(function () {
  'use strict';

  var FEED = /^(all|(ministries|topics)\/[a-z0-9-]+)$/;
  var DEFAULT_LIMIT = 5;
  var MAX_LIMIT = 20;
  var TIMEOUT_MS = 8000;
  var DONE = 'data-feedservice-done';

  // document.currentScript is null in very old browsers: then take the first widget not yet handled.
  function findScript() {
    var s = document.currentScript;
    if (s && !s.hasAttribute(DONE)) return s;
    var all = document.querySelectorAll('script[src*="/embed.js"][data-feed]');
    for (var i = 0; i < all.length; i++) {
      if (!all[i].hasAttribute(DONE)) return all[i];
    }
    return null;
  }

  // The service's base URL: the script's own absolute URL without "/embed.js" (or "/static/embed.js").
  function baseOf(src) {
    var m = /^(https?:\/\/[^?#]*?)(?:\/static)?\/embed\.js(?:[?#].*)?$/.exec(src || '');
    return m ? m[1] : null;
  }

  function parseLimit(value) {
    if (value === null || value === '') return DEFAULT_LIMIT;
    if (!/^[0-9]{1,2}$/.test(value)) return 0;
    var n = parseInt(value, 10);
    return n >= 1 && n <= MAX_LIMIT ? n : 0;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function fill(box, child) {
    while (box.firstChild) box.removeChild(box.firstChild);
    box.appendChild(child);
  }

  // Only http(s) links: a feed can never make the widget write a javascript: URL.
  function safeUrl(value) {
    try {
      var u = new URL(value);
      return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  // Articles are dated in Korea: show the KST day, in the reader's own date format.
  function formatDate(value) {
    var d = new Date(value);
    if (isNaN(d.getTime())) return '';
    try {
      return d.toLocaleDateString(undefined, { timeZone: 'Asia/Seoul', year: 'numeric', month: 'short', day: 'numeric' });
    } catch (e) {
      return new Date(d.getTime() + 9 * 3600 * 1000).toISOString().slice(0, 10);
    }
  }

  function names(authors) {
    var out = [];
    for (var i = 0; authors && i < authors.length; i++) {
      if (authors[i] && typeof authors[i].name === 'string') out.push(authors[i].name);
    }
    return out.join(', ');
  }

  function list(feed, limit) {
    var ul = el('ul', 'feedservice-list');
    if (typeof feed.title === 'string') ul.setAttribute('aria-label', feed.title);
    var items = feed.items || [];
    for (var i = 0, n = 0; i < items.length && n < limit; i++) {
      var item = items[i] || {};
      var href = safeUrl(item.url);
      if (!href || typeof item.title !== 'string' || !item.title) continue;
      var li = el('li', 'feedservice-item');
      var a = el('a', 'feedservice-link', item.title);
      a.href = href;
      li.appendChild(a);
      var meta = el('span', 'feedservice-meta');
      var day = formatDate(item.date_published);
      if (day) {
        var time = el('time', 'feedservice-date', day);
        time.setAttribute('datetime', item.date_published);
        meta.appendChild(time);
      }
      var who = names(item.authors);
      if (who) {
        if (day) meta.appendChild(el('span', 'feedservice-sep', ' \u00b7 '));
        meta.appendChild(el('span', 'feedservice-ministry', who));
      }
      li.appendChild(meta);
      ul.appendChild(li);
      n++;
    }
    return n ? ul : null;
  }

  function fallback(box, base) {
    var p = el('p', 'feedservice-fallback');
    var a = el('a', null, 'Latest news at ' + base.replace(/^https?:\/\//, ''));
    a.href = base + '/';
    p.appendChild(a);
    fill(box, p);
  }

  function whenParsed(fn) {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', fn);
    else fn();
  }

  function start(script) {
    script.setAttribute(DONE, '');
    var base = baseOf(script.src);
    if (!base) return;
    var key = script.getAttribute('data-feed') || 'all';
    var limit = parseLimit(script.getAttribute('data-limit'));
    var targetId = script.getAttribute('data-target');
    var after = null;
    if (!targetId) {
      after = el('div', 'feedservice');
      script.parentNode.insertBefore(after, script.nextSibling);
    }

    // An async script may run before the target element is parsed: look it up once the page is.
    function show(feed) {
      whenParsed(function () {
        var box = after || document.getElementById(targetId);
        if (!box) {
          box = el('div');
          script.parentNode.insertBefore(box, script.nextSibling);
        }
        box.classList.add('feedservice');
        var ul = feed && list(feed, limit);
        if (ul) fill(box, ul);
        else fallback(box, base);
      });
    }

    if (!FEED.test(key) || !limit || !window.fetch) return show(null);
    var ctl = window.AbortController ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, TIMEOUT_MS) : null;
    fetch(base + '/feeds/' + key + '.json?limit=' + limit, {
      mode: 'cors',
      credentials: 'omit',
      signal: ctl ? ctl.signal : undefined
    })
      .then(function (resp) {
        if (!resp.ok) throw new Error('HTTP ' + resp.status);
        return resp.json();
      })
      .then(function (feed) {
        clearTimeout(timer);
        show(feed);
      })
      .catch(function () {
        clearTimeout(timer);
        show(null);
      });
  }

  var script = findScript();
  if (script) start(script);
})();
