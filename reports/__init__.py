"""Presentation, in one home: what people and scripts read of stored results.

- text.py: the tables and words the CLI prints (METHOD_ORDER, k_text, status_text)
- documents.py: the JSON documents of `--json` (and what the recalc task returns)
- series.py, plots.py, html.py: the data each figure draws, the figures, the HTML report

Nothing here simulates or chooses: it only shows what the store holds.
"""
