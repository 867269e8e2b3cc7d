"""The gateway: the one public door. Clerk sessions in, verified identities out to the services."""
