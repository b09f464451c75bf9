"""The science of infscale, pure: specs in, arrays and decisions out.

Nothing in this package touches Celery, a database or the file system, so the
local run, the Celery workers and the tests all call the same functions.
"""
