"""Readers: every file format infscale accepts, turned into engine specs and data.

One module per format; the engine never parses text. Each reader raises
`infscale.engine.errors.SpecError` naming the file and the field on the first problem.

- files.py: reading any user file (regular files only, bounded size, UTF-8)
- sweep_files.py: sweep and catalog YAML; price_files.py: catalog-format or LiteLLM price maps
- pass_rates.py: `k,pass_rate` CSV for fit-accuracy
- stored_specs.py: specs <-> the plain dicts stored with a sweep (with compatibility defaults)
"""
