"""``required_state`` wildcards and placeholders (MSC4186 / MSC3575).

The request's values (``config``, parsed by the api layer) and the state they select
(``room_data``) share them. A module of their own: the service modules need only
these at run time, so the request types load with the first sliding sync request,
not at start-up (issue 21).
"""

from __future__ import annotations

WILDCARD = "*"
LAZY = "$LAZY"
ME = "$ME"
