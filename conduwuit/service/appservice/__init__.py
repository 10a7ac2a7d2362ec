"""Application services: their registrations (registry) and who they act as."""
