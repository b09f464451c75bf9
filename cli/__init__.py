"""The `infscale` command: argument parsing, output, and the one-line error edge.

main.py builds the parser and turns every `InfscaleError` into one line and exit code 2;
console.py holds what every command module shares (argument types, the database option,
opening the store, JSON and progress output); commands.py, distributed.py, prices.py and
plotting.py each register a few subcommands. Command modules import console, never main.
"""
