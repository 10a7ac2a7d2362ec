"""Rooms: storage layout, the event pipeline, and what clients do in rooms.

``storage.RoomStorage`` wires the storage parts and the one event pipeline; room
actions of local users (``actions``), reads with history visibility (``history``)
and membership changes (``membership``) build on it.
"""
