"""The one time setting of the test suite: every timeout, deadline and pause in ``tests/`` derives from it.

The suite must pass on a loaded 2-core machine (several suites and benchmarks at once; load average 7
was seen), where a moto request or a poller catching up takes many times longer than on an idle laptop.
A wait that polls for a condition ends as soon as the condition holds, so a generous limit costs nothing
when the test passes; it only delays the report of a real failure. Short times that a test needs on
purpose (a client timeout it forces to expire, an outage it rides out, a quiet period that ends a read)
are fixed fractions of the same setting, so raising ``MOVIEREC_TEST_TIMEOUT_S`` on a slower machine
scales all of them together and no test keeps a private constant that breaks under load.
"""

from __future__ import annotations

import os

#: The longest a test waits for anything that should happen (a server up, a poller caught up, an answer).
TEST_TIMEOUT_S = float(os.environ.get("MOVIEREC_TEST_TIMEOUT_S") or 300)

#: No new record for this long means a topic was read through (5 s at the default).
QUIET_S = TEST_TIMEOUT_S / 60

#: A short time a test needs on purpose: a client timeout it makes expire, a deliberate pause (1 s at the
#: default). Long enough for a loopback answer on a loaded machine, short against ``TEST_TIMEOUT_S``.
SHORT_S = TEST_TIMEOUT_S / 300
