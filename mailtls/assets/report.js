/* mailtls report script: runs before pytest-html's own (it sits in the summary).
 * 1. A large findings table starts filtered through pytest-html's documented ?visible= and
 *    ?collapsed= URL parameters, so the page opens fast; the boxes draw the rest.
 * 2. "All results by domain", the findings' evidence buttons and the evidence are drawn on
 *    demand; rows and evidence from inert data: JSON packed
 *    with gzip and base64 (inflated with the browser's DecompressionStream when first asked
 *    for), rows stated as indexes into one table of strings.
 * Server text only ever reaches the page through textContent, or as evidence HTML that
 * mailtls escaped when it wrote the report. */
(function () {
  'use strict'
  const cache = {}
  const data = (id) => {
    if (!(id in cache)) {
      const el = document.getElementById(id)
      cache[id] = el ? JSON.parse(el.textContent) : null
    }
    return cache[id]
  }
  const inflate = async (id) => {
    const el = document.getElementById(id)
    if (!el) return null
    const bin = atob(el.textContent)
    const bytes = new Uint8Array(bin.length)
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))
    return JSON.parse(await new Response(stream).text())
  }
  const packed = (id) => {
    if (!(id in cache)) cache[id] = inflate(id) // one promise, however many clicks wait on it
    return cache[id]
  }
  const failed = (parent, err) => {
    const p = document.createElement('p')
    p.textContent = 'mailtls: this browser could not unpack the report data (' + err + ')'
    parent.appendChild(p)
    parent.dataset.drawn = 'failed'
  }

  const meta = data('mailtls-meta')
  const url = new URL(window.location.href)
  if (meta && meta.tableRows > meta.limit && !url.searchParams.has('visible')) {
    const visible = []
    let drawn = 0
    for (const [outcome, count] of meta.byOutcome) {
      if (drawn + count > meta.limit) break
      visible.push(outcome)
      if (outcome === 'failed') visible.push('error')
      drawn += count
    }
    url.searchParams.set('visible', visible.join(','))
    if (!url.searchParams.has('collapsed')) url.searchParams.set('collapsed', 'all')
    window.history.replaceState({}, '', url.href)
  }

  const cell = (tr, text, cls) => {
    const td = document.createElement('td')
    td.textContent = text
    if (cls) td.className = cls
    tr.appendChild(td)
    return td
  }

  const evidenceButton = (digest) => {
    const b = document.createElement('button')
    b.type = 'button'
    b.className = 'mt-ev'
    b.dataset.ev = digest
    b.textContent = 'evidence ' + digest.slice(0, 8)
    return b
  }

  const drawDomain = async (details) => {
    const all = await packed('mailtls-rows')
    const rows = all.rows[details.dataset.domain] || []
    const text = all.text
    const table = document.createElement('table')
    table.className = 'mt-rows'
    const head = table.insertRow()
    for (const h of ['verdict', 'requirement', 'severity', 'host', 'IP', 'finding', 'evidence']) {
      const th = document.createElement('th')
      th.textContent = h
      head.appendChild(th)
    }
    for (const [req, verdict, host, ip, severity, message, evidence] of rows) {
      const tr = table.insertRow()
      tr.className = 'mt-' + text[verdict].split(' ')[0].replace('.', '')
      cell(tr, text[verdict])
      cell(tr, all.reqs[req][0]).title = all.reqs[req][1]
      cell(tr, text[severity])
      cell(tr, text[host])
      cell(tr, text[ip])
      cell(tr, text[message])
      const td = cell(tr, '')
      evidence.forEach((e) => td.appendChild(evidenceButton(all.ev[e])))
    }
    details.appendChild(table)
    details.dataset.drawn = '1'
  }

  const drawGroup = (details) => {
    for (const td of details.querySelectorAll('td.mt-evs')) {
      td.dataset.ev.split(' ').filter(Boolean).forEach((d) => td.appendChild(evidenceButton(d)))
    }
    details.dataset.drawn = '1'
  }

  document.addEventListener('toggle', (evt) => {
    const d = evt.target
    if (!d.classList || !d.open || d.dataset.drawn) return
    if (d.classList.contains('mt-group')) drawGroup(d)
    if (d.classList.contains('mt-domain')) {
      d.dataset.drawn = 'drawing'
      drawDomain(d).catch((err) => failed(d, err))
    }
  }, true)

  document.addEventListener('click', (evt) => {
    const button = evt.target.closest ? evt.target.closest('button.mt-ev') : null
    if (!button) return
    evt.stopPropagation() // a click in a pytest-html row must not redraw the whole table
    const parent = button.parentElement
    const next = parent.querySelector('.mt-ev-body[data-ev="' + button.dataset.ev + '"]')
    if (next) { next.remove(); return }
    const body = document.createElement('div')
    body.className = 'mt-ev-body'
    body.dataset.ev = button.dataset.ev
    parent.appendChild(body)
    packed('mailtls-evidence-' + button.dataset.ev[0]).then((store) => {
      const html = store[button.dataset.ev]
      // Evidence HTML was escaped by mailtls (mailtls.evidence) when it wrote the report.
      body.insertAdjacentHTML('beforeend', html === undefined ? '<p>evidence not found</p>' : html)
      body.dataset.drawn = '1'
    }).catch((err) => failed(body, err))
  }, true)

  const openTarget = () => {
    if (!window.location.hash) return
    const el = document.getElementById(decodeURIComponent(window.location.hash.slice(1)))
    if (el && el.tagName === 'DETAILS') { el.open = true; el.scrollIntoView() }
  }
  window.addEventListener('hashchange', openTarget)
  document.addEventListener('DOMContentLoaded', openTarget)
})()
