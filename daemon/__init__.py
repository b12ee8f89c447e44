"""The long-running process and the command line."""
