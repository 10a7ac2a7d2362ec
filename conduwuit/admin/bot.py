"""The admin bot: commands sent in the admin room, answered there as the server user.

A new ``m.room.message`` in the admin room is staged by a persist listener and
handled after its batch commits, in a background task: the sender's request never
waits for a command. Accepted forms (conduwuit's): ``!admin <group> <command>``
and ``@conduit:<server>: <group> <command>``. Only server admins are obeyed; anyone
else gets a refusal and nothing is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from conduwuit.admin.parser import CommandParser, Outcome
from conduwuit.admin.render import notice
from conduwuit.admin.room import AdminRoom
from conduwuit.core.errors import MatrixError
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId
from conduwuit.db.batch import Batch
from conduwuit.service.rooms.actions import RoomActions
from conduwuit.service.rooms.timeline import PduJson
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)

PREFIX = "!admin"


class AdminExecuteError(Exception):
    """A start-up command (``admin_execute``) failed and errors are not ignored."""


class AdminBot:
    def __init__(
        self,
        room: AdminRoom,
        actions: RoomActions,
        parser: CommandParser,
        *,
        is_guest: Callable[[str], bool] = lambda user_id: False,
        notices: bool = True,
        guest_notices: bool = False,
    ) -> None:
        self.room = room
        self._actions = actions
        self.parser = parser
        self._is_guest = is_guest
        self._notices = notices
        self._guest_notices = guest_notices
        self._tasks = BackgroundTasks()

    def command_line(self, body: str) -> str | None:
        """The command in a message body, or None if it is not addressed to the bot."""
        text = body.strip()
        mention = str(self.room.server_user)
        for prefix in (PREFIX, f"{mention}:", mention):
            if text == prefix or text.startswith(prefix + " ") or text.startswith(prefix + "\n"):
                return text[len(prefix) :].strip()
        return None

    def stage_event(self, b: Batch, pdu: PduJson, count: int, before: int) -> None:
        """Persist listener: a command in the admin room runs once the event is in."""
        if pdu.get("type") != EventType.MESSAGE or pdu.get("state_key") is not None:
            return
        room_id = self.room.room_id()
        if room_id is None or pdu.get("room_id") != room_id:
            return
        sender = pdu.get("sender")
        content = pdu.get("content")
        if sender == str(self.room.server_user) or not isinstance(content, dict):
            return
        body = content.get("body")
        if not isinstance(body, str) or not isinstance(sender, str):
            return
        line = self.command_line(body)
        if line is None:
            return
        event_id = str(pdu.get("event_id"))

        def start() -> None:
            _ = self._tasks.spawn(
                f"admin command {event_id}", self.handle(room_id, sender, line, event_id)
            )

        b.after_commit(start)

    async def handle(self, room_id: str, sender: str, line: str, event_id: str) -> None:
        """Run a command and answer in a reply to it (m.in_reply_to, as conduwuit)."""
        if not self.room.is_admin(sender):
            reply = f"{sender} is not a server admin: commands are only for admins."
        else:
            reply = (await self.run(line)).text
        await self._send(room_id, reply, in_reply_to=event_id)

    async def run(self, line: str) -> Outcome:
        """A command's output or the error to show; nothing escapes."""
        try:
            return await self.parser.execute(line)
        except MatrixError as exc:
            return Outcome(f"Error: {exc.message}", ok=False)
        except Exception:
            log.exception("admin command failed: %s", line)
            return Outcome("Error: the command failed unexpectedly (see the server log).", False)

    async def execute_at_startup(self, commands: list[str], *, errors_ignore: bool) -> None:
        """conduwuit's ``admin_execute``: each command runs in order, its output is
        logged and posted in the admin room (if it exists). A failing command stops
        the start-up (AdminExecuteError) unless ``errors_ignore``."""
        for line in commands:
            outcome = await self.run(line.removeprefix(PREFIX).strip())
            log.info("admin_execute %r: %s", line, outcome.text)
            room_id = self.room.room_id()
            if room_id is not None:
                await self._send(room_id, f"Start-up command `{line}`:\n{outcome.text}")
            if not outcome.ok and not errors_ignore:
                raise AdminExecuteError(f"admin_execute command {line!r} failed: {outcome.text}")

    async def on_registered(self, user_id: str) -> None:
        """Registration listener: conduwuit's notice of a new user (admin_room_notices;
        guests only with log_guest_registrations), in before registration answers."""
        guest = self._is_guest(user_id)
        if not self._notices or (guest and not self._guest_notices):
            return
        room_id = self.room.room_id()
        if room_id is not None:
            kind = "guest user" if guest else "user"
            await self._send(room_id, f"New {kind} {user_id} registered on this server.")

    def post(self, text: str) -> None:
        """Post a notice (a report, say) in the admin room, off the caller's path."""
        room_id = self.room.room_id()
        if room_id is not None:
            _ = self._tasks.spawn("admin notice", self._send(room_id, text))

    async def _send(self, room_id: str, text: str, in_reply_to: str | None = None) -> None:
        content = notice(text)
        if in_reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": in_reply_to}}
        try:
            await self._actions.send(
                self.room.server_user, RoomId.parse(room_id), EventType.MESSAGE, content
            )
        except MatrixError as exc:
            log.error("could not post in the admin room: %s", exc.message)

    async def stop(self) -> None:
        await self._tasks.stop()
