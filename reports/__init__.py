"""Pictures and a report of stored results: what people look at to decide.

`series` turns stored rows into the plain data each figure draws (also written as a JSON
sidecar next to each image), `plots` draws that data with matplotlib, `html` assembles a
self-contained report. Nothing here simulates or chooses: it only shows what the store holds.
"""
