"""The science of infscale, pure: specs in, arrays and decisions out.

Nothing in this package touches Celery, a database, the file system or a text format (it
imports numpy and the standard library only; tests/test_layout.py checks), so the local run,
the Celery workers and the tests all call the same functions.

- specs.py: the validated specs (dataclasses, enums, limits); validation.py: specs from plain
  mappings, each error a SpecError naming the field; catalog.py: the bundled models and scenarios
- plan.py: the one owner of the plan: simulation groups, blocks, rounds and shards
- simulation.py, legacy.py, accuracy.py: Monte Carlo trials into mergeable partials
- statistics.py: partials, merging, curves; exact.py: closed-form expectations
- frontier.py, selection.py, confidence.py, adaptive.py: frontier, the four methods, how sure
- pipeline.py: the data flow, one function per arrow; results.py: what a run returns
- prices.py, difficulty_fit.py: prices and fitting the difficulty distribution
"""
