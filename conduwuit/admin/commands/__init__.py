"""The command groups, each a module declaring its commands over what it uses."""
