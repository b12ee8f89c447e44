"""Sub-commands of ``booth``; each module exposes ``register(subparsers)``."""
