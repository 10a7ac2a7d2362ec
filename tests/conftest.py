"""Suite-wide settings.

Hypothesis fails an example that takes over 200 ms by default. The property tests
check behaviour, not speed (speed is bench/'s, side by side with Synapse), and the
machines this suite runs on are shared and loaded, so that deadline only makes them
flaky: it is off for the whole suite.
"""

from hypothesis import settings

settings.register_profile("conduwuit", deadline=None)
settings.load_profile("conduwuit")
