"""CLI subcommands, one module per area; each module defines ``register(subparsers)``.

``infra.cli`` discovers the modules here, so adding a command means adding a module, not editing a list.
"""
