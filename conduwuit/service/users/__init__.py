"""Users: accounts, passwords, profiles, registration and login checks."""
