"""The web layer: sessions, CSRF, authentication and authorisation helpers."""
