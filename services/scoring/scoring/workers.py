"""Background work: scoring has none. Everything it does follows from a request or an event in the
transaction that handles it (reviewers are assigned when an application arrives or a reviewer frees
up, an application is scored when its last review is submitted), so nothing waits to be picked up.
"""

from grants_shared.service import Worker

WORKERS: tuple[Worker, ...] = ()
