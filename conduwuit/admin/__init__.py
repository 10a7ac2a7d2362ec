"""The admin room and its bot: ``#admins:<server>``, run by ``@conduit:<server>``,
where server admins send ``!admin <group> <command>`` (conduwuit's admin room).

This package sits above the services (it drives them as the server user) and below
the composition root only; nothing in the services imports it.
"""

from conduwuit.admin.bot import AdminBot, AdminExecuteError
from conduwuit.admin.room import AdminRoom

__all__ = ["AdminBot", "AdminExecuteError", "AdminRoom"]
