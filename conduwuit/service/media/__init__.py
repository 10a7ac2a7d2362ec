"""The media repository: content-addressed storage, thumbnails, URL previews."""
