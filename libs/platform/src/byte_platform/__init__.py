"""Plumbing shared by BYTE services. Services import it; it never imports a service."""
