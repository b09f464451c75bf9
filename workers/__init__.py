"""The workers: the Celery app, its tasks, and everything that talks to the broker.

- app.py: the Celery app and every setting it relies on (`celery -A infscale.workers.app worker`)
- tasks.py: the task bodies, a few lines each (read the spec, call the engine, store)
- broker.py: sending shards, running a recalculation on a worker or here, the recalc lock

Workers may import the scheduler, storage and the engine; nothing below them imports workers.
"""
