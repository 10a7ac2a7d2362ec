"""Client-server API endpoints for rooms, one module per spec area:
creation, sending and state, membership, timeline history, aliases and directory.
(conduwuit/api/routes.py lists each module's routes.)
"""
