"""The scheduler: turns a validated sweep into work and work into stored answers.

- local.py: `infscale run`, the whole sweep in this machine's processes
- submit.py: record a sweep's plan and send its first-round shards (through a `send` callable)
- reduce.py: from stored partials to stored runs, next rounds and finished sweeps
- progress.py: how far a submitted sweep is; recalc.py: prices in, stale runs recomputed

It calls the engine and the storage interface, and never imports the workers or Celery: the
CLI and the tasks hand it `workers.broker.sender` where it enqueues.
"""
