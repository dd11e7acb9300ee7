"""Members and their credentials: accounts, log-in, sessions, tokens, their own data."""
