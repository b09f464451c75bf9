"""Readers: every file format infscale accepts, turned into engine specs and data.

One module per format; the engine never parses text. Each reader raises
`infscale.engine.errors.SpecError` naming the file and the field on the first problem.
"""
