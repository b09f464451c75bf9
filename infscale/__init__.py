"""infscale: decide how many inferences (k) an LLM deployment should run per query.

The distribution installs one import name, `infscale`. Its subpackages are the repository's
top-level folders (see the README's Layout): `infscale.engine` (the pure science),
`infscale.storage`, `infscale.scheduler`, `infscale.workers`, `infscale.cli`, `infscale.reports`.
"""

__version__ = "0.2.0"
