"""Options no code reads are documented as such ("not yet used"), and only those.

An option is read when some module outside the config models accesses it as an
attribute (``config.allow_registration``, ``tls.certs``) or through a property of
its model that is read (``address`` through ``addresses``). The check is by name,
so a generic name read elsewhere counts as read: it errs towards "used".
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

import conduwuit
from conduwuit.config.model import NOT_YET_USED, GlobalConfig, unused

PACKAGE = Path(conduwuit.__file__).parent
#: Where the options are declared and rendered: not a use.
DECLARING = {PACKAGE / "config" / "model.py", PACKAGE / "config" / "example.py"}
#: A one-value choice the loader enforces: there is nothing for code to switch on.
NOTHING_TO_READ = {"database_backend"}


def options(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo, str]]:
    """(dotted name, field, names whose reading reads the option)."""
    properties = {
        name: inspect.getsource(value.fget)
        for name, value in vars(model).items()
        if isinstance(value, property) and value.fget is not None
    }
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from options(annotation, f"{prefix}{name}.")
            continue
        via = [p for p, source in properties.items() if re.search(rf"self\.{name}\b", source)]
        yield f"{prefix}{name}", info, "|".join([name, *via])


def unread_options() -> set[str]:
    sources = "\n".join(
        path.read_text() for path in sorted(PACKAGE.rglob("*.py")) if path not in DECLARING
    )
    return {
        dotted
        for dotted, _, names in options(GlobalConfig)
        if dotted not in NOTHING_TO_READ and not re.search(rf"\.(?:{names})\b", sources)
    }


def marked_options() -> set[str]:
    return {
        dotted
        for dotted, info, _ in options(GlobalConfig)
        if NOT_YET_USED in (info.description or "")
    }


def test_every_unread_option_is_marked_not_yet_used_and_only_those() -> None:
    unread = unread_options()
    marked = marked_options()
    assert unread - marked == set(), "read by no module: mark with unused() in config/model.py"
    assert marked - unread == set(), "read now: drop the unused() marker in config/model.py"


def test_the_known_unused_options_are_found() -> None:
    # The federation sender and inbound transactions read these.
    assert {
        "allow_outgoing_typing",
        "allow_outgoing_read_receipts",
        "allow_outgoing_presence",
        "sender_retry_backoff_limit",
        "startup_netburst",
        "startup_netburst_keep",
        "allow_incoming_typing",
        "allow_incoming_presence",
        "allow_incoming_read_receipts",
        "typing_federation_timeout_s",
    }.isdisjoint(unread_options())
    # Read through a property (GlobalConfig.addresses): used.
    assert "address" not in unread_options()
    assert "allow_registration" not in unread_options()
    # Pushers are the first reader of the outbound-request options.
    assert {"ip_range_denylist", "request_timeout", "pusher_idle_timeout"}.isdisjoint(
        unread_options()
    )


def test_marker_reaches_the_example_config() -> None:
    """Each marked option says so in the example config (none is marked today: every
    option is read since the federation work; the marker stays for the next new one)."""
    example = (PACKAGE.parent / "docs" / "conduwuit-example.toml").read_text()
    marked = marked_options()
    for dotted in marked:
        block = example.split(f"#{dotted.rsplit('.', 1)[-1]} =")[0].rsplit("\n\n", 1)[-1]
        assert NOT_YET_USED in block, dotted
    assert (NOT_YET_USED in example) == bool(marked)
    assert NOT_YET_USED in unused("An option.")
