(function () {
  'use strict';

  // A cell's sort key: its data-v attribute when it has one (exact numbers,
  // ISO dates), else its text.
  function key(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return numeric ? -Infinity : ''; }
    var v = cell.getAttribute('data-v');
    var text = v !== null ? v : cell.textContent;
    if (numeric) {
      var n = parseFloat(text);
      return isNaN(n) ? -Infinity : n;
    }
    return text.trim().toLowerCase();
  }

  function sortTable(table, index, direction) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var th = table.tHead.rows[0].cells[index];
    var numeric = th.getAttribute('data-type') === 'num';
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, i) { return [key(row, index, numeric), i, row]; });
    var sign = direction === 'ascending' ? 1 : -1;
    keyed.sort(function (a, b) {
      if (a[0] < b[0]) { return -sign; }
      if (a[0] > b[0]) { return sign; }
      return a[1] - b[1];
    });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (k) { fragment.appendChild(k[2]); });
    body.appendChild(fragment);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) {
      c.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', direction);
  }

  // Clicking a header sorts by it; numbers start largest first, text A→Z;
  // clicking again reverses.
  function onHeaderClick(event) {
    var th = event.currentTarget;
    var table = th.closest('table');
    var current = th.getAttribute('aria-sort');
    var direction;
    if (current === 'ascending') { direction = 'descending'; }
    else if (current === 'descending') { direction = 'ascending'; }
    else { direction = th.getAttribute('data-type') === 'num' ? 'descending' : 'ascending'; }
    sortTable(table, th.cellIndex, direction);
  }

  function applyFilter(input) {
    var table = document.getElementById(input.getAttribute('data-filter'));
    if (!table || !table.tBodies[0]) { return; }
    var query = input.value.trim().toLowerCase();
    var shown = 0;
    var rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) {
      var match = query === '' || rows[i].textContent.toLowerCase().indexOf(query) !== -1;
      rows[i].hidden = !match;
      if (match) { shown++; }
    }
    var counter = document.querySelector('[data-count-for="' + table.id + '"]');
    if (counter) {
      var noun = rows.length === 1 ? ' row' : ' rows';
      counter.textContent = query === '' ? rows.length + noun : shown + ' of ' + rows.length + noun;
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll('table.sortable thead th'), function (th) {
    th.addEventListener('click', onHeaderClick);
    th.setAttribute('title', 'Sort by this column');
  });
  Array.prototype.forEach.call(document.querySelectorAll('input[data-filter]'), function (input) {
    input.addEventListener('input', function () { applyFilter(input); });
  });

  function columnKeys(table, index) {
    var numeric = table.tHead.rows[0].cells[index].getAttribute('data-type') === 'num';
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return key(r, index, numeric); });
  }

  function ordered(values, direction) {
    for (var i = 1; i < values.length; i++) {
      if (direction === 'ascending' ? values[i - 1] > values[i] : values[i - 1] < values[i]) { return false; }
    }
    return true;
  }

  // Loaded with #selftest: sorts and filters a table through the same
  // handlers a click and a keystroke use, and writes what happened (and any
  // error or network request) into the page for a headless browser to read.
  function selftest() {
    var result = { errors: [], resources: -1, sort: null, filter: null };
    try {
      var table = document.querySelector('table.sortable[data-selftest]') || document.querySelector('table.sortable');
      var th = table.tHead.rows[0].querySelector('th[data-selftest]') || table.tHead.rows[0].querySelector('th[data-type="num"]');
      var index = th.cellIndex;
      th.click();
      var first = columnKeys(table, index);
      var firstDir = th.getAttribute('aria-sort');
      th.click();
      var second = columnKeys(table, index);
      var secondDir = th.getAttribute('aria-sort');
      result.sort = {
        table: table.id,
        column: th.textContent,
        rows: first.length,
        first: firstDir,
        firstOrdered: ordered(first, firstDir),
        second: secondDir,
        secondOrdered: ordered(second, secondDir),
        changed: first.length < 2 || JSON.stringify(first) !== JSON.stringify(second) || first[0] === first[first.length - 1]
      };
      var input = document.querySelector('input[data-filter="' + table.id + '"]');
      if (input && table.tBodies[0].rows.length > 0) {
        var needle = table.tBodies[0].rows[0].cells[0].textContent.trim();
        input.value = needle;
        input.dispatchEvent(new Event('input'));
        var visible = Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden; }).length;
        result.filter = { query: needle, visible: visible, rows: table.tBodies[0].rows.length };
        input.value = '';
        input.dispatchEvent(new Event('input'));
      }
    } catch (e) {
      window.__revleakErrors.push('selftest: ' + e);
    }
    // A figure wider than its card (seen with eight-digit amounts) is listed.
    result.overflow = Array.prototype.filter.call(document.querySelectorAll('.card .v'), function (v) {
      var card = v.closest('.card');
      var row = v.closest('.cards').getBoundingClientRect();
      return v.scrollWidth > v.clientWidth + 1 || card.scrollWidth > card.clientWidth + 1 ||
        card.getBoundingClientRect().right > row.right + 1;
    }).map(function (v) { return v.textContent; });
    result.errors = window.__revleakErrors.slice();
    result.resources = performance.getEntriesByType('resource').length;
    var pre = document.createElement('pre');
    pre.id = 'selftest-result';
    pre.textContent = JSON.stringify(result);
    document.body.appendChild(pre);
  }

  if (location.hash === '#selftest') { selftest(); }
})();
