"""The content repository's endpoints: /_matrix/media/* and /_matrix/client/v1/media/*."""
