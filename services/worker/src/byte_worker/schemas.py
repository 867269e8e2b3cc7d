"""The worker has no HTTP API, hence no API models: what crosses its boundaries is in
`messages.py` (the workflow's input, signals, query answer and activity inputs)."""
