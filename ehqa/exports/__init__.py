"""Exports for inspection: Ofsted's Annex A List 2 (early help) and the Standard Safeguarding
Dataset's `ssd_early_help_episodes` as CSV, and one episode's chronology as HTML and PDF.

`facts` reads what the exports need from the read models (live, or replayed as known at a
moment: ehqa.known_at); `personal` the children's personal fields; `annex_a`, `ssd` and
`chronology` shape them; `pdf` lays the chronology out on paper. Where each rule comes from is
in docs/exports.md.
"""
